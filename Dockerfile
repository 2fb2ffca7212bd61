# Veil's image: the `veil` CLI (worker, topics, sidecar, replay) on Python 3.11, every Python
# package pinned by requirements.lock. The Kafka broker is a separate image (see
# docker-compose.yml). Not built here: no Docker engine runs on the development machine.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS=""

WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY pipeline ./pipeline
COPY detectors ./detectors
COPY config ./config
COPY scripts/build_native.py ./scripts/
# The scanner's hot modules compiled with mypyc and its Hyperscan extension (detectors/native.py),
# as scripts/setup does; the compiler and headers are removed again (libhyperscan5 stays: the
# extension links it), the extension modules ship as package data.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev libhyperscan-dev libhyperscan5 \
    && python scripts/build_native.py \
    && pip install --no-deps --no-build-isolation . \
    && apt-mark manual libhyperscan5 \
    && apt-get purge -y --auto-remove gcc libc6-dev libhyperscan-dev \
    && rm -rf /var/lib/apt/lists/* build \
    && cd / && python -c "import detectors.scanner as s; assert s.__file__.endswith('.so'), s.__file__; assert s.Scanner()._hs.engine == 'libhs'; import pipeline.media.tiff as t, pipeline.sidecar.fastpath as f; assert t.__file__.endswith('.so') and f.__file__.endswith('.so')" \
    && cd /app \
    && useradd --system --uid 10001 --home-dir /var/lib/veil --create-home veil
USER veil
ENV VEIL_DATA_DIR=/var/lib/veil \
    VEIL_POLICY=/app/config/policy.yaml
EXPOSE 6066 8787
ENTRYPOINT []
CMD ["veil", "--help"]

# WardWatch images (production; the local default needs no Docker).
#   docker build .                   the stream worker / simulator image (target "worker", the
#                                    default): base dependencies only, no TensorFlow or spaCy
#   docker build --target batch .    the batch workers (`wardwatch batch worker image|genomic|notes`):
#                                    plus the image, genomic and notes extras
FROM python:3.11-slim AS source
WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY wardwatch ./wardwatch
COPY streams ./streams
COPY models ./models
COPY simulators ./simulators
COPY batch ./batch
RUN useradd --create-home wardwatch

FROM source AS batch
RUN pip install --no-cache-dir -c requirements.lock ".[image,genomic,notes]"
USER wardwatch
ENTRYPOINT ["wardwatch"]
CMD ["batch", "worker", "image"]

FROM source AS worker
RUN pip install --no-cache-dir -c requirements.lock .
USER wardwatch
ENTRYPOINT ["wardwatch"]
CMD ["worker"]

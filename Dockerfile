# WardWatch worker / simulator image (production; the local default needs no Docker).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY wardwatch ./wardwatch
COPY streams ./streams
COPY models ./models
COPY simulators ./simulators
COPY batch ./batch
RUN pip install --no-cache-dir -c requirements.lock .
RUN useradd --create-home wardwatch
USER wardwatch
ENTRYPOINT ["wardwatch"]
CMD ["worker"]

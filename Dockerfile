# syntax=docker/dockerfile:1
# Build stage: turn the source into a wheel (templates/ and experiments/ are packaged inside it).
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip build
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY templates ./templates
COPY experiments ./experiments
RUN python -m build --wheel --outdir /wheels

# Runtime stage: the wheel and its dependencies only, run as an unprivileged user.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CHAOSBOT_DATABASE_URL=sqlite:////var/lib/chaosbot/chaosbot.db \
    CHAOSBOT_HTTP_PORT=3000
RUN groupadd --system --gid 10001 chaosbot \
    && useradd --system --uid 10001 --gid chaosbot --home-dir /var/lib/chaosbot --create-home chaosbot
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001:10001
WORKDIR /var/lib/chaosbot
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=2)"]
ENTRYPOINT ["chaosbot"]
CMD ["serve"]

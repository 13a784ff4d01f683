# The traffic lab's stand-in backend as an image, so the kind scenarios use the same app and the same knobs as the
# lab: `docker build -t graygate-lab-backend:dev -f e2e/kind/backend.Dockerfile e2e/lab`
# (the build context is e2e/lab: backend.py imports nothing else from the lab).
FROM python:3.11-slim
RUN pip install --no-cache-dir "aiohttp>=3.9,<4" "prometheus-client>=0.20,<1" "pydantic>=2.7,<3"
COPY backend.py /app/backend.py
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["python", "/app/backend.py", "--host", "0.0.0.0", "--port", "8080", "--service", "checkout", "--namespace", "shop"]

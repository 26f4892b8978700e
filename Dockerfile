FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PRM_VAR_DIR=/app/var
WORKDIR /app
COPY pyproject.toml ./
COPY . .
# GNU gettext's msgfmt for compilemessages (the .mo files are built, not committed).
RUN apt-get update && apt-get install -y --no-install-recommends gettext && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir -e . && python manage.py compilemessages --ignore=.venv --ignore=var -v 0 \
 && useradd --create-home app && mkdir -p /app/var && chown -R app /app/var
USER app
EXPOSE 8000
CMD ["gunicorn", "prm.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "5"]

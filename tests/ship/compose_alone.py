"""Validate Compose files one by one with Compose's own loader
(docker-compose 1.29, run with its venv's Python): YAML, interpolation with
the given env file, and the Compose schema. An overlay is partial by design
(no image in docker-compose.dev.yml), so the whole-project checks that need
the merged result (every service has an image or a build) run on the layered
files instead (`docker-compose -f … -f … config`).

usage: compose_alone.py ENV_FILE FILE..."""
import sys

from compose.config import config
from compose.config.environment import Environment

env = Environment.from_env_file(".", sys.argv[1])
status = 0
for path in sys.argv[2:]:
    try:
        loaded = config.process_config_file(config.ConfigFile.from_filename(path), env)
        print(f"{path}: {len(loaded.config.get('services', {}))} service(s)")
    except Exception as e:  # ConfigurationError and YAML errors name the key
        print(f"{path}: {e}")
        status = 1
sys.exit(status)

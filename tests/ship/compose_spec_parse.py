"""Parse Compose files with compose_spec (Rust, strict, typed; PyPI
`compose-spec`), after docker-compose has interpolated and merged them.
Exits non-zero naming the file and the offending key."""
import sys

import compose_spec

for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        spec = compose_spec.PyCompose.from_yaml(text).to_spec()
    except Exception as e:  # the parser's message names the key and line
        sys.exit(f"{path}: {e}")
    print(f"{path}: {len(spec.services or {})} service(s)")

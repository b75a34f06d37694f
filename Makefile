# One entry point for people and CI. `make demo` and `make test` set up everything they need.
# The Lambda runtime is the version of the Python that runs `chalice package` (python3.13).
PYTHON ?= python3.13
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.demo-installed
# One marker per interpreter version: a venv made by another Python is rebuilt, not reused.
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
INTERPRETER := $(VENV)/.python-$(or $(PYTHON_VERSION),missing)
PIP := $(PY) -m pip install --quiet --disable-pip-version-check

# What the targets write stays in the clone wherever a tool allows: pip's cache, the XDG cache
# and config folders (pip-audit, schemathesis, Chromium), and temporary files (pytest's
# tmp_path, tempfile, the browser's profile). `make clean` removes them.
export PIP_CACHE_DIR := $(CURDIR)/.cache/pip
export XDG_CACHE_HOME := $(CURDIR)/.cache
export XDG_CONFIG_HOME := $(CURDIR)/.cache/config
export TMPDIR := $(CURDIR)/.tmp
# mkdocs-material prints a banner about its successor on every build.
export NO_MKDOCS_2_WARNING := 1
SCRATCH := mkdir -p .tmp .cache

.PHONY: venv demo test lint typecheck check bench bench-record docs clean package package-terraform deploy-guide test-infra checkov audit bandit fuzz load

venv: $(STAMP)

# The demo installs only what it runs (about half a minute); the tests add the dev tools.
$(INTERPRETER):
	@test -n "$(PYTHON_VERSION)" || { echo "error: $(PYTHON) does not run; install Python 3.13 or run make PYTHON=/path/to/python3.13" >&2; exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	touch $@

$(DEMO_STAMP): $(INTERPRETER) requirements.txt requirements-demo.txt constraints.txt pyproject.toml
	@$(SCRATCH)
	$(PIP) -r requirements-demo.txt -c constraints.txt
	$(PIP) --no-deps --no-build-isolation -e .  # the ecr-audit alias
	touch $(DEMO_STAMP)

$(STAMP): $(DEMO_STAMP) requirements-dev.txt requirements-infra.txt requirements-docs.txt
	$(PIP) -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

demo: $(DEMO_STAMP) ## run the local demo against an embedded AWS emulator (no AWS account needed)
	@$(SCRATCH)
	$(PY) -m chalicelib.cli demo $(ARGS)

TEST_WORKERS ?= auto

# The browser test's Debian packages are listed, then installed, before the tests start;
# -m "not browser" in PYTEST_ARGS leaves them out.
test: venv ## run the whole test suite in parallel (each worker starts its own moto server on 127.0.0.1)
	@$(SCRATCH)
	$(if $(findstring not browser,$(PYTEST_ARGS)),,@sh scripts/install-browser.sh)
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: venv ## ruff, the layers' import contracts (pyproject.toml [tool.importlinter]), the docs' strict build
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) -m mkdocs build --strict --quiet --site-dir .tmp/site-check

docs: venv ## build the documentation site into site/ (offline; the pages are docs/ and mkdocs.yml)
	$(PY) -m mkdocs build --strict
	@echo "site/ built: .venv/bin/python -m http.server -d site, then open http://127.0.0.1:8000"

typecheck: venv
	$(PY) -m mypy chalicelib app.py

check: lint typecheck test

bench: venv ## per-event cost and history independence, as ratios to a same-run baseline
	$(PY) bench/run.py

bench-record: venv ## make bench, its output kept as bench/recorded-run.txt (docs/performance.md quotes it)
	$(PY) bench/run.py | tee .tmp/bench-run.txt
	mv .tmp/bench-run.txt bench/recorded-run.txt

STAGE ?= dev

package: venv ## build build/$(STAGE)/sam.json + deployment.zip: the Chalice app merged with infra/app-resources.json
	@case "$(STAGE)" in dev|prod) ;; *) echo "error: STAGE must be dev or prod" >&2; exit 1;; esac
	rm -rf build/$(STAGE)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(VENV)/bin/chalice package --stage $(STAGE) --merge-template infra/app-resources.json build/$(STAGE)
	$(PY) scripts/compile_package.py build/$(STAGE)/deployment.zip

package-terraform: venv ## build build/terraform/$(STAGE): Chalice's Terraform + infra/terraform/app, for Terraform >= 1.5 and the AWS provider 6
	@case "$(STAGE)" in dev|prod) ;; *) echo "error: STAGE must be dev or prod" >&2; exit 1;; esac
	$(PY) scripts/package_terraform.py $(STAGE) build/terraform/$(STAGE)

deploy-guide: ## print the commands that deploy STAGE and the member-account forwarder
	@STAGE=$(STAGE) sh scripts/deploy-guide.sh

test-infra: venv ## deployment templates only: cfn-lint, template assertions, moto deployment, checkov
	$(PY) -m pytest tests/infra $(PYTEST_ARGS)

checkov: package package-terraform ## checkov (own venv .venv-checkov) on both packages of STAGE and the member-account templates
	$(PY) scripts/checkov.py build/$(STAGE)/sam.json infra/forwarder.json build/terraform/$(STAGE) infra/terraform/modules/member-account

fuzz: venv ## schemathesis on `chalice local` from chalicelib/entrypoints/openapi.json (FUZZ_EXAMPLES, default 25)
	$(PY) -m pytest tests/e2e/test_api_fuzz.py $(PYTEST_ARGS)

load: venv ## LOAD_EVENTS (default 10000) events, 20 repositories x 4 destinations, 4 workers
	LOAD_EVENTS=$${LOAD_EVENTS:-10000} $(PY) -m pytest tests/e2e/test_load.py tests/e2e/test_concurrency.py $(PYTEST_ARGS)

bandit: venv ## bandit on app.py and chalicelib/ (offline); accepted findings: scripts/audit-skips.yaml
	$(PY) scripts/audit.py bandit

audit: venv ## bandit, then pip-audit on constraints.txt (own venv .venv-audit; needs PyPI's JSON API or OSV)
	$(PY) scripts/audit.py all $(if $(SERVICE),--service $(SERVICE))

clean: ## remove everything the project writes: venvs, build/, test-artifacts/, caches
	rm -rf $(VENV) .venv-checkov .venv-audit build dist site test-artifacts .cache .tmp demo.env.json .pytest_cache .mypy_cache .ruff_cache .hypothesis .chalice/deployments .chalice/venv *.egg-info
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +

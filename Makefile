# The two commands of the README:
#   make deploy   set up the virtualenv and deploy the dev stack (local state, passphrase secrets)
#   make test     run the test suite (no cluster needed); `make e2e` adds the real deployment tests
#
# Overridable: STACK, PYTHON, PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE(_FILE).

STACK ?= dev
# The first Python 3.12 that really runs (a pyenv shim may exist and still refuse to run).
PYTHON ?= $(shell for p in python3.12 $(wildcard $(HOME)/.pyenv/versions/3.12.*/bin/python3.12); do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null && { command -v $$p; break; }; done)
VENV := .venv
# Pulumi's local file backend: no account, state kept in your home directory.
export PULUMI_BACKEND_URL ?= file://$(HOME)/.griddb-todo/state
PASSPHRASE_FILE := $(HOME)/.griddb-todo/passphrase

.PHONY: deploy preview destroy test e2e venv clean

$(VENV)/.installed: requirements.txt requirements-dev.txt $(wildcard services/*/requirements.txt)
	@test -n "$(PYTHON)" || { echo "Python 3.12 is needed (set PYTHON=/path/to/python3.12)"; exit 1; }
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed

# The policy pack's own virtualenv (policy/PulumiPolicy.yaml names it): pulumi-policy pins another protobuf.
POLICY_VENV := policy/venv
$(POLICY_VENV)/.installed: policy/requirements.txt policy/requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "Python 3.12 is needed (set PYTHON=/path/to/python3.12)"; exit 1; }
	@test -x $(POLICY_VENV)/bin/python || $(PYTHON) -m venv $(POLICY_VENV)
	$(POLICY_VENV)/bin/pip install --quiet --disable-pip-version-check -r policy/requirements-dev.txt
	@touch $@

# A generated passphrase (0600) unless you give your own: it encrypts the stack's secrets.
$(PASSPHRASE_FILE):
	@mkdir -p $(dir $@) && umask 077 && $(VENV)/bin/python -c "import secrets; print(secrets.token_urlsafe(32))" > $@
	@echo "Generated a passphrase for stack secrets in $@ (keep it; back it up)."

define pulumi_env
	$(if $(PULUMI_CONFIG_PASSPHRASE),,PULUMI_CONFIG_PASSPHRASE_FILE=$${PULUMI_CONFIG_PASSPHRASE_FILE:-$(PASSPHRASE_FILE)})
endef

deploy: venv $(PASSPHRASE_FILE)
	@command -v pulumi >/dev/null || { echo "The pulumi CLI is not on PATH (see README: Prerequisites)"; exit 1; }
	@mkdir -p $(subst file://,,$(PULUMI_BACKEND_URL))
	$(pulumi_env) pulumi stack select --create $(STACK)
	$(pulumi_env) pulumi up --yes --stack $(STACK)
	@echo; $(pulumi_env) pulumi stack output url --stack $(STACK)

preview: venv $(PASSPHRASE_FILE)
	$(pulumi_env) pulumi preview --stack $(STACK)

destroy: venv $(PASSPHRASE_FILE)
	$(pulumi_env) pulumi destroy --yes --stack $(STACK)

test: venv $(POLICY_VENV)/.installed
	$(VENV)/bin/python -m pytest -m "not e2e"
	$(POLICY_VENV)/bin/python -m pytest -p no:cacheprovider tests/policy/test_pack.py

# -s: pulumi's progress shows as it happens (a cold `up` takes minutes).
e2e: venv
	tools/e2e/up
	$(VENV)/bin/python -m pytest -s -rA tools/e2e/tests tests/e2e

clean:
	rm -rf $(VENV) $(POLICY_VENV) .pytest_cache test-results

# The README's architecture picture, from its checked-in source.
docs/architecture.png: docs/architecture.dot
	dot -Tpng -Gdpi=110 $< -o $@

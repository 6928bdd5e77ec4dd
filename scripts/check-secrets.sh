#!/bin/sh
# Refuse to start the compose stack on empty, placeholder, short, low-entropy or unsafe secrets.
#
#   scripts/check-secrets.sh [ENV_FILE]     # on the host, e.g. scripts/check-secrets.sh .env
#   (in compose: the one-shot service `secrets-check`, which every other service waits for)
#
# Values come from the environment, or from ENV_FILE (KEY=VALUE lines; never sourced as shell).
# Exit 0 when every secret is usable, 1 (with one line per problem) otherwise.
set -u

SECRETS="ELASTIC_PASSWORD KIBANA_PASSWORD KIBANA_ENCRYPTION_KEY POSTGRES_PASSWORD AIRFLOW_ADMIN_PASSWORD AIRFLOW_FERNET_KEY AIRFLOW_API_SECRET_KEY AIRFLOW_JWT_SECRET REDIS_PASSWORD WARWATCH_ES_PASSWORD"
MIN_LENGTH=12
MIN_DISTINCT=8
TOKEN='python3 -c "import secrets; print(secrets.token_urlsafe(32))"'
FERNET='python3 -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'

if [ "$#" -gt 0 ]; then
  [ -r "$1" ] || { echo "check-secrets: cannot read $1" >&2; exit 1; }
  while IFS= read -r line || [ -n "$line" ]; do
    key=${line%%=*}
    value=${line#*=}
    case " $SECRETS " in
      *" $key "*) [ "$key" != "$line" ] && export "$key=$value" ;;
    esac
  done < "$1"
fi

failed=0
refuse() {
  echo "refused: $1 $2" >&2
  failed=1
}

for name in $SECRETS; do
  eval "value=\${$name-}"
  GENERATE=$TOKEN
  [ "$name" = AIRFLOW_FERNET_KEY ] && GENERATE=$FERNET
  lower=$(printf '%s' "$value" | tr '[:upper:]' '[:lower:]')
  case "$lower" in
    "") refuse "$name" "is empty; set it in .env (generate one: $GENERATE)"; continue ;;
    *changeme*|*change-me*|*change_me*|*placeholder*|*example*|*set-me*|*setme*|*todo*|*xxxx*|*secret-here*)
      refuse "$name" "is a placeholder; set a real value (generate one: $GENERATE)"; continue ;;
    password*|admin*|elastic|kibana|airflow|postgres|123456*|qwerty*|letmein*)
      refuse "$name" "is a well-known password; set a real value (generate one: $GENERATE)"; continue ;;
  esac
  # safe everywhere it goes: URLs (Postgres), JSON bodies and curl config files, YAML
  if printf '%s' "$value" | LC_ALL=C grep -q '[^A-Za-z0-9._~+=-]'; then
    refuse "$name" "may contain only letters, digits and . _ ~ + = - (generate one: $GENERATE)"; continue
  fi
  length=$(printf '%s' "$value" | wc -c | tr -d ' ')
  if [ "$length" -lt "$MIN_LENGTH" ]; then
    refuse "$name" "is shorter than $MIN_LENGTH characters"; continue
  fi
  # low entropy (aaaaaaaaaaaa, abababababab, 111111111111...): too few distinct characters for its
  # length; a generated token of 43 characters has about 30
  distinct=$(printf '%s' "$value" | fold -w1 | LC_ALL=C sort -u | wc -l | tr -d ' ')
  need=$((length / 3))
  [ "$need" -ge "$MIN_DISTINCT" ] || need=$MIN_DISTINCT
  if [ "$distinct" -lt "$need" ]; then
    refuse "$name" "has too little entropy: $distinct distinct characters in $length (at least $need; generate one: $GENERATE)"
  fi
done

eval "key=\${KIBANA_ENCRYPTION_KEY-}"
if [ -n "$key" ] && [ "$(printf '%s' "$key" | wc -c | tr -d ' ')" -lt 32 ]; then
  refuse KIBANA_ENCRYPTION_KEY "must be at least 32 characters (Kibana refuses shorter keys)"
fi
eval "key=\${AIRFLOW_FERNET_KEY-}"
if [ -n "$key" ] && ! printf '%s' "$key" | LC_ALL=C grep -Eq '^[A-Za-z0-9_-]{43}=$'; then
  refuse AIRFLOW_FERNET_KEY "is not a Fernet key; generate one: $FERNET"
fi

if [ "$failed" -ne 0 ]; then
  echo "check-secrets: not starting; edit .env (see .env.example)" >&2
  exit 1
fi
echo "check-secrets: every secret is set"

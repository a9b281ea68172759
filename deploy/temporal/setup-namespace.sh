#!/bin/sh
# Registers nurture's namespace with the retention given, or sets the
# retention of the namespace when it exists, then adds the search attributes
# each lead's workflow keeps up to date (package workflows), and waits until
# the namespace lists them all. Safe to run on every start: adding an
# attribute the namespace already has with the same type changes nothing,
# and one with another type is an error, which stops the stack before a
# worker starts. docker-compose.yml runs it once the server answers, and the
# workers and the receiver start only after it succeeded.
set -eu

: "${TEMPORAL_ADDRESS:?the Temporal frontend, host:port}"
: "${TEMPORAL_NAMESPACE:?the namespace nurture runs in}"
: "${TEMPORAL_RETENTION:?how long Temporal keeps closed workflows, such as 30d}"
attempts=${SETUP_ATTEMPTS:-60}
pause=${SETUP_PAUSE_SECONDS:-2}

# retry WHAT COMMAND...: runs the command until it succeeds, at most
# $attempts times.
retry() {
	what=$1
	shift
	i=1
	until "$@"; do
		if [ "$i" -ge "$attempts" ]; then
			echo "$what: gave up after $i attempts" >&2
			return 1
		fi
		echo "$what: not yet (attempt $i of $attempts)" >&2
		i=$((i + 1))
		sleep "$pause"
	done
}

# op ARGS...: temporal operator ARGS... against the server at $TEMPORAL_ADDRESS.
op() { temporal operator "$@" --address "$TEMPORAL_ADDRESS"; }

retry "Temporal at $TEMPORAL_ADDRESS is healthy" op cluster health

if op namespace describe --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; then
	echo "namespace $TEMPORAL_NAMESPACE exists; retention $TEMPORAL_RETENTION"
	retry "set the retention of $TEMPORAL_NAMESPACE" \
		op namespace update --namespace "$TEMPORAL_NAMESPACE" --retention "$TEMPORAL_RETENTION"
else
	echo "creating namespace $TEMPORAL_NAMESPACE with retention $TEMPORAL_RETENTION"
	retry "create namespace $TEMPORAL_NAMESPACE" \
		op namespace create --namespace "$TEMPORAL_NAMESPACE" --retention "$TEMPORAL_RETENTION"
fi

# The names and types of workflows.SearchAttributes(); deploy's test checks
# that this list and the one below are that one.
retry "add nurture's search attributes to $TEMPORAL_NAMESPACE" \
	op search-attribute create --namespace "$TEMPORAL_NAMESPACE" \
	--name NurtureJourney --type Keyword \
	--name NurtureVersion --type Int \
	--name NurtureStage --type Keyword \
	--name NurtureLifecycle --type Keyword \
	--name NurtureScore --type Int

listed() {
	list=$(op search-attribute list --namespace "$TEMPORAL_NAMESPACE") || return 1
	for name in NurtureJourney NurtureVersion NurtureStage NurtureLifecycle NurtureScore; do
		case $list in
		*"$name"*) ;;
		*) return 1 ;;
		esac
	done
}
retry "namespace $TEMPORAL_NAMESPACE lists nurture's search attributes" listed
echo "namespace $TEMPORAL_NAMESPACE is ready"

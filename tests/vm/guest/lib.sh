# Shared helpers of the guest scripts (sourced).  Results go to the serial
# console as one JSON object per line, prefixed "EVPN-E2E ", which the host
# harness parses; human notes are prefixed "evpn-e2e:".
mono() { python3 -c 'import time; print(f"{time.clock_gettime(time.CLOCK_MONOTONIC):.3f}")'; }
since() { python3 -c "import time,sys; print(f'{time.clock_gettime(time.CLOCK_MONOTONIC)-float(sys.argv[1]):.1f}')" "$1"; }
_emit() { echo "EVPN-E2E $1"; }
# check NAME true|false DETAIL
check() {
  _emit "$(python3 -c 'import json,sys; print(json.dumps({"kind":"check","name":sys.argv[1],"ok":sys.argv[2]=="true","detail":sys.argv[3]}))' "$1" "$2" "$3")"
}
note() { echo "evpn-e2e: $*"; }

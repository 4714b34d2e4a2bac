# Sourced by scripts/run.sh and scripts/cluster.sh (EMULATOR_PORT set): two emulator regions,
# spo1 on EMULATOR_PORT and spo2 on the next port, for the consoles and workers; unless
# BYCLOUD_REGIONS or BYCLOUD_API_URL names real regions: then no emulator is started.
# Sets start_emulator (1 or 0), BYCLOUD_REGIONS (exported) and api (the line to print).
start_emulator=0
api="ByCloud API (no emulator started): ${BYCLOUD_REGIONS:-${BYCLOUD_API_URL:-}}"
if [ -z "${BYCLOUD_REGIONS:-}" ] && [ -z "${BYCLOUD_API_URL:-}" ]; then
  start_emulator=1
  spo1_url="http://127.0.0.1:$EMULATOR_PORT"
  spo2_url="http://127.0.0.1:$((EMULATOR_PORT + 1))"
  export BYCLOUD_REGIONS="spo1=$spo1_url,spo2=$spo2_url"
  api="ByCloud API (emulator): region spo1 $spo1_url/, region spo2 $spo2_url/"
fi

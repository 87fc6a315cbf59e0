#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, with AddressSanitizer) of every parser diffai writes:
# capture decoding and IP fragments, TCP reassembly, the HTTP parsers (alone and inside the
# proxy's connection handler), the rule file, the model file and the alert-file reader.
#
#   bench/fuzz.sh SECONDS [HARNESS...]    run each harness that long; print executions, coverage
#   bench/fuzz.sh --runs N [HARNESS...]   run each harness for N executions (the long run: 10000000)
#   bench/fuzz.sh --smoke                 what the test command runs: regressions, then 30 s each
#
# Corpora grow in bench/out/fuzz/corpus-NAME (seeded from captures/, rules.json, ... by
# Fuzz/make-seeds.py); FUZZ_BUILD=0 runs the harnesses built before (a long run that must not
# pick up sources being edited meanwhile). Every input in Fuzz/regressions/NAME is run first and must pass. A crash
# stops the run with the input saved as bench/out/fuzz/crash-NAME-*: commit it into
# Fuzz/regressions/NAME with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
limit=()
if [ "$seconds" = "--smoke" ]; then seconds=30; fi
if [ "$seconds" = "--runs" ]; then
    runs=$1
    shift
    limit=(-runs="$runs")
    seconds="-"
else
    limit=(-max_total_time="$seconds")
fi
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(packets tcp http proxy rules model alert-files tls)

[ "${FUZZ_BUILD:-1}" = 0 ] || bash Fuzz/build.sh
bin=.build-fuzz/harnesses
out=bench/out/fuzz
mkdir -p "$out"
python3 Fuzz/make-seeds.py "$out/seeds"

# Inputs large enough for what each format does, small enough to stay fast.
max_length() {
    case $1 in
        alert-files) echo 1024 ;;
        rules) echo 4096 ;;
        model) echo 16384 ;;
        *) echo 65536 ;;
    esac
}

# AddressSanitizer settings per harness. The alert-file reader allocates its read buffers
# per page: with ASan's default 256 MB quarantine every one is a fresh zeroed mapping (a third
# of the run in page faults), so that harness recycles freed memory sooner (use-after-free is
# still caught within the last 8 MB freed).
asan_options() {
    case $1 in
        alert-files) echo malloc_context_size=1:detect_leaks=0:quarantine_size_mb=8:max_malloc_fill_size=0 ;;
        *) echo malloc_context_size=1:detect_leaks=0 ;;
    esac
}

dictionary() {
    case $1 in
        packets|tcp) echo Fuzz/dictionaries/packets.dict ;;
        http|proxy) echo Fuzz/dictionaries/http.dict ;;
        *) echo "Fuzz/dictionaries/$1.dict" ;;
    esac
}

status=0
printf '| harness | seconds | executions | exec/s | coverage (edges) | features | corpus | crashes |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
for name in "${harnesses[@]}"; do
    corpus="$out/corpus-$name"
    mkdir -p "$corpus" "$out/seeds/$name"
    if [ -d "Fuzz/regressions/$name" ] && [ -n "$(ls -A "Fuzz/regressions/$name")" ]; then
        if ! "$bin/fuzz-$name" Fuzz/regressions/"$name"/* > "$out/regressions-$name.log" 2>&1; then
            echo "fuzz-$name: a committed regression input fails again (see $out/regressions-$name.log)" >&2
            status=1
            continue
        fi
    fi
    log="$out/fuzz-$name.log"
    set +e
    # Allocation stacks of one frame: ASan's unwinding otherwise takes a fifth of the time.
    ASAN_OPTIONS=$(asan_options "$name") "$bin/fuzz-$name" "${limit[@]}" -print_final_stats=1 -timeout=10 \
        -rss_limit_mb=4096 -max_len="$(max_length "$name")" \
        -dict="$(dictionary "$name")" -artifact_prefix="$out/crash-$name-" "$corpus" "$out/seeds/$name" > "$log" 2>&1
    code=$?
    set -e
    executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    coverage=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || echo 0)
    features=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || echo 0)
    crashes=$( (ls "$out"/crash-"$name"-* 2>/dev/null || true) | wc -l)
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$seconds" "$executions" "$rate" "$coverage" "$features" \
        "$(ls "$corpus" | wc -l)" "$crashes"
    if [ "$code" -ne 0 ] || [ "$crashes" -gt 0 ]; then
        echo "fuzz-$name found a crash: $(ls "$out"/crash-"$name"-* 2>/dev/null | head -3 | tr '\n' ' ') (log: $log)" >&2
        status=1
    fi
done
exit $status

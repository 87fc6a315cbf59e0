#!/usr/bin/env bash
# Builds the libFuzzer harnesses in Fuzz/Harnesses over the real stage modules.
#
# SwiftPM renames an executable's entry point and links its own main, so the harnesses are not
# package targets: the stage modules are built by SwiftPM (its own scratch folder, with
# coverage and address sanitizer instrumentation, testable so harnesses may reach internals),
# and each harness is compiled and linked by swiftc against their objects.
#
#   Fuzz/build.sh            builds every harness into .build-fuzz/harnesses/
#   Fuzz/build.sh proxy tcp  builds only those (the others, perhaps running, are left alone)
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=.build-fuzz
# Optimised (fuzzing wants executions), with the stage modules' asserts kept (-assert-config
# Debug) and testable, so harnesses may reach internals.
# -sanitize=fuzzer instruments coverage only where swiftc also links, so the modules get the
# coverage libFuzzer reads (8-bit counters, PC table, comparisons) spelled out.
flags=(-c release -Xswiftc -sanitize=fuzzer -Xswiftc -sanitize=address
       -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp
       -Xswiftc -enable-testing -Xswiftc -assert-config -Xswiftc Debug)
# The stage modules (Pipeline depends on all of them), the proxy, TLS, and NIO's embedded channel
# for the proxy harness; targets, not products (products would link executables).
# SwiftPM does not rebuild what it built with other flags: start afresh when they change.
stamp="$scratch/fuzz-flags"
if [ "$(cat "$stamp" 2>/dev/null)" != "${flags[*]}" ]; then
    rm -rf "$scratch/x86_64-unknown-linux-gnu" "$scratch/aarch64-unknown-linux-gnu" "$scratch/release"
    mkdir -p "$scratch"
    echo "${flags[*]}" > "$stamp"
fi
for target in Pipeline Proxy TLS NIOEmbedded; do
    swift build --scratch-path "$scratch" --target "$target" "${flags[@]}" >&2
done

bin=$(swift build --scratch-path "$scratch" -c release --show-bin-path)
out="$scratch/harnesses"
mkdir -p "$out"
# Every object those target builds made (the scratch folder holds nothing else: no product is
# ever built there), but for plugin tools: each harness links the lot and uses what it imports.
mapfile -t objects < <(find "$bin" -maxdepth 5 -path '*.build/*.o' | grep -v -e '-tool\.build/' | sort)
# Module maps of the C modules (system libraries and NIO's shims) the Swift modules import.
modulemaps=()
for map in "$PWD"/Sources/C*/module.modulemap $(find "$bin" -maxdepth 2 -path "*.build/module.modulemap" | grep -v -e "-tool.build/"); do modulemaps+=(-Xcc "-fmodule-map-file=$map"); done
for map in $(find "$PWD/$scratch/checkouts" -path '*/Sources/*/include/module.modulemap' 2>/dev/null); do
    modulemaps+=(-Xcc "-fmodule-map-file=$map" -Xcc "-I$(dirname "$map")")
done

wanted=("$@")
harness() {
    local name=$1 source=$2
    if [ ${#wanted[@]} -gt 0 ] && [[ " ${wanted[*]} " != *" $name "* ]]; then return; fi
    swiftc -sanitize=fuzzer,address -parse-as-library -O -assert-config Debug -module-name "Fuzz${name//-/_}" \
        -I "$bin/Modules" -I "$bin" "${modulemaps[@]}" \
        Fuzz/Harnesses/FuzzInput.swift "Fuzz/Harnesses/$source" "${objects[@]}" \
        -lpcap -lpcre2-8 -lz -lssl -lcrypto -o "$out/fuzz-$name"
    echo "$out/fuzz-$name" >&2
}

harness packets FuzzPackets.swift
harness tcp FuzzTCP.swift
harness http FuzzHTTP.swift
harness proxy FuzzProxy.swift
harness rules FuzzRules.swift
harness model FuzzModel.swift
harness alert-files FuzzAlertFiles.swift
harness tls FuzzTLS.swift

# `cannoli fetch` against a local HTTP server (tests/e2e/http_server.py on
# 127.0.0.1): a catalogue HDF5 through CANNOLI_MIRROR whose transfer is cut
# mid-way and resumes with a Range request; MS MARCO SPLADE's gzipped .csr
# files inflated while streaming (one also cut and resumed) and usable by
# `cannoli info`; a partial left by an earlier run resumed (plain and .gz);
# a server that ignores Range; and the failures, each one line that leaves
# nothing under the final name: 404, no server, checksum mismatch (sha256,
# md5), a write failure (file-size limit standing in for a full disk), a
# truncated or corrupt gzip stream. A catalogue name not on disk names the
# exact fetch command.
source "$(dirname "$0")/lib.sh"
need_fixtures sift-ngt-5k_base.bvecs sift-ngt-5k_query.bvecs sift-ngt-5k_groundtruth.ivecs \
  splade-v3-8k.base.csr splade-v3-8k.query.csr splade-v3-8k_groundtruth.ivecs
WWW=$WORK/www
mkdir -p "$WWW" "$WORK/data"
"$CANNOLI" convert --train "$FIX/sift-ngt-5k_base.bvecs" --test "$FIX/sift-ngt-5k_query.bvecs" \
  --neighbors "$FIX/sift-ngt-5k_groundtruth.ivecs" -o "$WWW/mnist-784-euclidean.hdf5" >/dev/null
gzip -c "$FIX/splade-v3-8k.base.csr" >"$WWW/base_small.csr.gz"
gzip -c "$FIX/splade-v3-8k.query.csr" >"$WWW/queries.dev.csr.gz"
$PY - "$FIX/splade-v3-8k_groundtruth.ivecs" "$WWW/base_small.dev.gt" <<'PYEOF'
import sys, struct
raw = open(sys.argv[1], "rb").read()
k = struct.unpack("<i", raw[:4])[0]
rows = [raw[i + 4:i + 4 + 4 * k] for i in range(0, len(raw), 4 + 4 * k)]
with open(sys.argv[2], "wb") as f:
    f.write(struct.pack("<II", len(rows), k))
    for r in rows: f.write(r)
    f.write(b"\0" * (4 * k * len(rows)))  # scores: recomputed by cannoli
PYEOF
cp "$WWW/mnist-784-euclidean.hdf5" "$WWW/plain.bin"
cp "$WWW/mnist-784-euclidean.hdf5" "$WWW/norange.bin"
head -c 100000 "$WWW/base_small.csr.gz" >"$WWW/trunc.csr.gz"
head -c 50000 "$WWW/plain.bin" >"$WWW/notgz.csr.gz"

"$PY" "$SRC/tests/e2e/http_server.py" "$WWW" "$WORK/port" "$WORK/http.log" \
  --drop mnist-784-euclidean.hdf5 --drop base_small.csr.gz --no-range norange.bin &
SRV=$!
trap 'kill $SRV 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
[ -s "$WORK/port" ] || { echo "the test HTTP server did not start"; exit 1; }
URL=http://127.0.0.1:$(cat "$WORK/port")
export CANNOLI_DATA=$WORK/data

# Catalogue name not on disk: the exact command.
"$CANNOLI" info mnist-784-euclidean >/dev/null 2>"$WORK/miss.txt" && not_ok "info on a set not on disk succeeded" || {
  [ "$(wc -l <"$WORK/miss.txt")" = 1 ] && grep -q -F '`cannoli fetch mnist-784-euclidean`' "$WORK/miss.txt" \
    && ok "set not on disk: $(cat "$WORK/miss.txt")" || not_ok "set not on disk: $(cat "$WORK/miss.txt")"; }

# 1. Catalogue HDF5 through the mirror; the first transfer is cut and resumed.
if CANNOLI_MIRROR=$URL/ "$CANNOLI" fetch mnist-784-euclidean >"$WORK/f1.log" 2>&1; then
  cmp -s "$WORK/data/mnist-784-euclidean.hdf5" "$WWW/mnist-784-euclidean.hdf5" \
    && ok "mirror fetch: file identical" || not_ok "mirror fetch: file differs"
  grep -q "transfer interrupted" "$WORK/f1.log" && ok "interruption reported" || not_ok "no interruption line"
  grep -q "^/mnist-784-euclidean.hdf5 bytes=[0-9]*- 206" "$WORK/http.log" \
    && ok "resumed with a Range request (206)" || not_ok "no Range request: $(cat "$WORK/http.log")"
  "$CANNOLI" info mnist-784-euclidean >"$WORK/info1.txt" && grep -q "train      4900" "$WORK/info1.txt" \
    && ok "fetched set opens by its catalogue name" || not_ok "info after fetch"
  ls "$WORK/data" | grep -q '\.part' && not_ok "partial files left behind" || ok "no partial left"
else not_ok "mirror fetch failed: $(tail -1 "$WORK/f1.log")"; fi
CANNOLI_MIRROR=$URL "$CANNOLI" fetch mnist-784-euclidean >"$WORK/f1b.log" 2>&1
grep -q "already there" "$WORK/f1b.log" && ok "second fetch: already there" || not_ok "second fetch did not notice the file"

# 2. MS MARCO SPLADE small: .csr.gz inflated while streaming (base cut once).
if CANNOLI_MIRROR=$URL "$CANNOLI" fetch msmarco-splade-small >"$WORK/f2.log" 2>&1; then
  cmp -s "$WORK/data/msmarco-splade/base_small.csr" "$FIX/splade-v3-8k.base.csr" \
    && cmp -s "$WORK/data/msmarco-splade/queries.dev.csr" "$FIX/splade-v3-8k.query.csr" \
    && cmp -s "$WORK/data/msmarco-splade/base_small.dev.gt" "$WWW/base_small.dev.gt" \
    && ok "msmarco-splade-small: inflated files identical" || not_ok "msmarco files differ"
  grep -q "^/base_small.csr.gz bytes=[0-9]*- 206" "$WORK/http.log" \
    && ok "gzip stream resumed with a Range request" || not_ok "gzip stream not resumed"
  ls "$WORK/data/msmarco-splade" | grep -q 'part' && not_ok "partials left" || ok "no gzip partial left"
  "$CANNOLI" info msmarco-splade-small >"$WORK/info2.txt" 2>&1 && grep -q "train      8000" "$WORK/info2.txt" \
    && ok "msmarco-splade-small opens (sparse .csr + big-ann .gt)" || not_ok "info msmarco: $(tail -1 "$WORK/info2.txt")"
else not_ok "msmarco fetch failed: $(tail -1 "$WORK/f2.log")"; fi

# 3. A partial left by an earlier run is resumed: plain, then gzip.
mkdir -p "$WORK/d3"
head -c 1000000 "$WWW/plain.bin" >"$WORK/d3/plain.bin.part"
"$CANNOLI" fetch "$URL/plain.bin" --dir "$WORK/d3" >"$WORK/f3.log" 2>&1 \
  && cmp -s "$WORK/d3/plain.bin" "$WWW/plain.bin" && grep -q "^/plain.bin bytes=1000000- 206" "$WORK/http.log" \
  && ok "plain partial resumed from byte 1000000" || not_ok "plain resume: $(tail -1 "$WORK/f3.log")"
head -c 300000 "$WWW/queries.dev.csr.gz" >"$WORK/d3/queries.dev.csr.gz.part"
echo "stale" >"$WORK/d3/queries.dev.csr.part"
"$CANNOLI" fetch "$URL/queries.dev.csr.gz" --dir "$WORK/d3" >"$WORK/f3b.log" 2>&1 \
  && cmp -s "$WORK/d3/queries.dev.csr" "$FIX/splade-v3-8k.query.csr" \
  && ok "gzip partial re-inflated and resumed" || not_ok "gzip resume: $(tail -1 "$WORK/f3b.log")"
# Resumed only when the partial is shorter than the file: 300000 < size.
if [ "$(stat -c %s "$WWW/queries.dev.csr.gz")" -gt 300000 ]; then
  grep -q "^/queries.dev.csr.gz bytes=300000- 206" "$WORK/http.log" && ok "gzip resume used Range" || not_ok "gzip resume without Range"
fi
head -c 5000 "$WWW/norange.bin" >"$WORK/d3/norange.bin.part"
"$CANNOLI" fetch "$URL/norange.bin" --dir "$WORK/d3" >"$WORK/f3c.log" 2>&1 \
  && cmp -s "$WORK/d3/norange.bin" "$WWW/norange.bin" \
  && ok "server without Range support: started over, file identical" || not_ok "no-range: $(tail -1 "$WORK/f3c.log")"

# 4. Checksums.
SHA=$(sha256sum "$WWW/plain.bin" | cut -d' ' -f1)
MD5=$(md5sum "$WWW/plain.bin" | cut -d' ' -f1)
"$CANNOLI" fetch "$URL/plain.bin" --dir "$WORK/d4" --sha256 "$SHA" --md5 "$MD5" >/dev/null 2>&1 \
  && cmp -s "$WORK/d4/plain.bin" "$WWW/plain.bin" && ok "sha256 and md5 verified" || not_ok "good checksums refused"
expect_fail "sha256 mismatch" "plain.bin" "sha256 mismatch: expected 00" "got $SHA" -- \
  "$CANNOLI" fetch "$URL/plain.bin" --dir "$WORK/d5" --sha256 "$(printf '0%.0s' $(seq 64))"
expect_fail "md5 mismatch" "md5 mismatch" "got $MD5" -- \
  "$CANNOLI" fetch "$URL/plain.bin" --dir "$WORK/d5" --md5 0123456789abcdef0123456789abcdef
[ -z "$(ls -A "$WORK/d5")" ] && ok "mismatch: nothing left in the folder" || not_ok "left: $(ls "$WORK/d5")"

# 5. Failures leave nothing under the final name.
expect_fail "404" "$URL/absent.bin" "HTTP 404" -- "$CANNOLI" fetch "$URL/absent.bin" --dir "$WORK/d6"
CANNOLI_MIRROR=$URL/sub expect_fail "404 through the mirror" "sub/sift-128-euclidean.hdf5" "HTTP 404" -- \
  "$CANNOLI" fetch sift-128-euclidean --dir "$WORK/d6"
expect_fail "no server" "127.0.0.1:1/x.bin" "cannot connect" -- "$CANNOLI" fetch "http://127.0.0.1:1/x.bin" --dir "$WORK/d6"
[ -z "$(ls -A "$WORK/d6")" ] && ok "404/no server: nothing written" || not_ok "left: $(ls "$WORK/d6")"
expect_fail "write failure (file-size limit as a full disk)" "plain.bin.part" "write failed" -- \
  bash -c "ulimit -f 200; exec \"$CANNOLI\" fetch \"$URL/plain.bin\" --dir \"$WORK/d7\""
[ ! -e "$WORK/d7/plain.bin" ] && ok "write failure: no final file" || not_ok "final file after a write failure"
expect_fail "truncated gzip" "trunc.csr.gz" "truncated gzip stream" -- "$CANNOLI" fetch "$URL/trunc.csr.gz" --dir "$WORK/d8"
expect_fail "not gzip" "notgz.csr.gz" "not a valid gzip stream" -- "$CANNOLI" fetch "$URL/notgz.csr.gz" --dir "$WORK/d8"
[ -z "$(ls -A "$WORK/d8")" ] && ok "bad gzip: nothing left" || not_ok "left: $(ls "$WORK/d8")"
expect_fail "unknown name" "no-such-set" "not a catalogue dataset" -- "$CANNOLI" fetch no-such-set
finish

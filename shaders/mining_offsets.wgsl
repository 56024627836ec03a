// Exclusive prefix sum of the positive counts: offsets[a] is the first pair slot of anchor a,
// offsets[n] the number of positive pairs. One workgroup: each invocation sums a contiguous
// chunk, a scan in workgroup memory combines the chunk totals, then each writes its chunk.

const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> params: MiningParams;
@group(0) @binding(1) var<storage, read> positive_counts: array<u32>;
@group(0) @binding(2) var<storage, read_write> offsets: array<u32>;

var<workgroup> totals: array<u32, WG>;

@compute @workgroup_size(256)
fn pair_offsets(@builtin(local_invocation_index) t: u32) {
    let n = params.n;
    let chunk = (n + WG - 1u) / WG;
    let begin = min(t * chunk, n);
    let end = min(begin + chunk, n);
    var sum = 0u;
    for (var i = begin; i < end; i++) {
        sum += positive_counts[i];
    }
    totals[t] = sum;
    workgroupBarrier();
    // Inclusive Hillis-Steele scan of the chunk totals.
    for (var stride = 1u; stride < WG; stride <<= 1u) {
        var value = totals[t];
        if t >= stride {
            value += totals[t - stride];
        }
        workgroupBarrier();
        totals[t] = value;
        workgroupBarrier();
    }
    var running = totals[t] - sum;
    for (var i = begin; i < end; i++) {
        offsets[i] = running;
        running += positive_counts[i];
    }
    if t == WG - 1u {
        offsets[n] = totals[WG - 1u];
    }
}

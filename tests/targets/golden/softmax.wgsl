@group(0) @binding(0) var<storage, read> b0: array<f32>;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;

struct Args {
  d0: i32, // dim B
  pn: i32, // dim #p0n
  po: i32, // split first p0
  o0: i32, // split base of b0
  o1: i32, // split base of b1
  pad0: i32,
  pad1: i32,
  pad2: i32,
}
@group(0) @binding(2) var<uniform> u: Args;

var<workgroup> red: array<u32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let prog = i32(wid.x + wid.y * nwg.x);
  if (prog >= u.pn) {
    return;
  }
  let tid = i32(lid);
  let p0 = prog + u.po;
  var part1: f32 = kiln_f32(0xff800000u);
  {
    let t1 = (p0 * 256);
    for (var e0 = tid; e0 < 256; e0 += 64) {
      part1 = kiln_max(part1, b0[(t1 + e0) - u.o0]);
    }
  }
  red[tid] = bitcast<u32>(part1);
  workgroupBarrier();
  for (var h = 32; h > 0; h = h / 2) {
    if (tid < h) {
      red[tid] = bitcast<u32>(kiln_max(bitcast<f32>(red[tid]), bitcast<f32>(red[tid + h])));
    }
    workgroupBarrier();
  }
  let a1 = bitcast<f32>(red[0]);
  workgroupBarrier();
  var part5: f32 = 0.0;
  {
    let t3 = (p0 * 256);
    for (var e2 = tid; e2 < 256; e2 += 64) {
      part5 = part5 + kiln_exp((b0[(t3 + e2) - u.o0] - a1));
    }
  }
  red[tid] = bitcast<u32>(part5);
  workgroupBarrier();
  for (var h = 32; h > 0; h = h / 2) {
    if (tid < h) {
      red[tid] = bitcast<u32>(bitcast<f32>(red[tid]) + bitcast<f32>(red[tid + h]));
    }
    workgroupBarrier();
  }
  let a5 = bitcast<f32>(red[0]);
  {
    let t5 = (p0 * 256);
    for (var e4 = tid; e4 < 256; e4 += 64) {
      b1[(e4 + t5) - u.o1] = (kiln_exp((b0[(e4 + t5) - u.o0] - a1)) / a5);
    }
  }
}

fn kiln_f32(bits: u32) -> f32 {
  return bitcast<f32>(bits);
}

fn kiln_isnan(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

fn kiln_max(a: f32, b: f32) -> f32 {
  if (kiln_isnan(a) || kiln_isnan(b)) {
    return kiln_f32(0x7fc00000u);
  }
  if (a == b) {
    return bitcast<f32>(bitcast<u32>(a) & bitcast<u32>(b));
  }
  return select(b, a, a > b);
}

fn kiln_exp(x: f32) -> f32 {
  if (kiln_isnan(x)) {
    return x;
  }
  if (x > 88.72284) {
    return kiln_f32(0x7f800000u);
  }
  if (x < -103.97208) {
    return 0.0;
  }
  let n = round(x * 1.4426950408889634);
  let r = (x - n * 0.693359375) - n * -2.12194440e-4;
  let p = 1.0 + r * (1.0 + r * (0.5 + r * (0.16666667 + r * (0.041666668 + r * (0.008333334 + r * (0.0013888889 + r * 0.0001984127))))));
  let e = i32(n);
  return ldexp(ldexp(p, e / 2), e - e / 2);
}

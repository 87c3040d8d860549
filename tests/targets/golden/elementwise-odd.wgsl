@group(0) @binding(0) var<storage, read> b0: array<f32>;
@group(0) @binding(1) var<storage, read> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;

struct Args {
  d0: i32, // dim B
  pn: i32, // dim #p0n
  po: i32, // split first p0
  o0: i32, // split base of b0
  o2: i32, // split base of b2
  pad0: i32,
  pad1: i32,
  pad2: i32,
}
@group(0) @binding(3) var<uniform> u: Args;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let prog = i32(wid.x + wid.y * nwg.x) * 256 + i32(lid);
  if (prog >= (u.pn * 7)) {
    return;
  }
  let p1 = prog % 7;
  let q0 = prog / 7;
  let p0 = q0 + u.po;
  {
    let t1 = b0[((p0 * 7) + p1) - u.o0];
    b2[((p0 * 7) + p1) - u.o2] = ((t1 + b1[p1]) * kiln_max(t1, 0.0));
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

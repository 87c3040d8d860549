@group(0) @binding(0) var<storage, read> b0: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<vec4<f32>>;

struct Args {
  d0: i32, // dim B
  pn: i32, // dim #p0n
  po: i32, // split first p0
  o0: i32, // split base of b0
  o1: i32, // split base of b1
  o2: i32, // split base of b2
  pad0: i32,
  pad1: i32,
}
@group(0) @binding(3) var<uniform> u: Args;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let e0 = (i32(wid.x + wid.y * nwg.x) * 256 + i32(lid)) * 4;
  if (e0 >= (u.pn * 8)) {
    return;
  }
  let p1 = e0 % 8;
  let q0 = e0 / 8;
  let p0 = q0 + u.po;
  {
    let v1 = b0[(((p0 * 8) + p1) - u.o0) / 4];
    let t2 = b1[p0 - u.o1];
    let t3 = (kiln_exp(v1.x) - t2);
    let t4 = (kiln_exp(v1.y) - t2);
    let t5 = (kiln_exp(v1.z) - t2);
    let t6 = (kiln_exp(v1.w) - t2);
    b2[(((p0 * 8) + p1) - u.o2) / 4] = vec4<f32>(t3, t4, t5, t6);
  }
}

fn kiln_f32(bits: u32) -> f32 {
  return bitcast<f32>(bits);
}

fn kiln_isnan(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
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

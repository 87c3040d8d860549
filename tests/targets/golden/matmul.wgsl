@group(0) @binding(0) var<storage, read> b0: array<f32>;
@group(0) @binding(1) var<storage, read> b1: array<f32>;
@group(0) @binding(2) var<storage, read> b2: array<f32>;
@group(0) @binding(3) var<storage, read_write> b3: array<f32>;

struct Args {
  d0: i32, // dim B
  pn: i32, // dim #p0n
  po: i32, // split first p0
  o0: i32, // split base of b0
  o3: i32, // split base of b3
  pad0: i32,
  pad1: i32,
  pad2: i32,
}
@group(0) @binding(4) var<uniform> u: Args;

var<workgroup> As: array<vec4<f32>, 256>;
var<workgroup> Bs: array<vec4<f32>, 32>;

fn epilogue(p0: i32, p1: i32, acc3: f32) {
  {
    b3[((p0 * 8) + p1) - u.o3] = kiln_max((acc3 + b2[p1]), 0.0);
  }
}

@compute @workgroup_size(32)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = i32(wid.x + wid.y * nwg.x);
  let tilesM = ((u.pn + 63) / 64);
  let tilesN = 1;
  if (wg >= tilesM * tilesN * 1) {
    return;
  }
  let tn = wg % tilesN;
  let tmb = wg / tilesN;
  let tm = tmb % tilesM;
  let bt = tmb / tilesM;
  let tid = i32(lid);
  let tx = tid % 2;
  let ty = tid / 2;
  let m0 = tm * 64;
  let n0 = tn * 8;
  var c0_0 = vec4<f32>(0.0);
  var c0_1 = vec4<f32>(0.0);
  var c0_2 = vec4<f32>(0.0);
  var c0_3 = vec4<f32>(0.0);
  let t0 = 16;
  for (var k0 = 0; k0 < t0; k0 += 16) {
    for (var l = 0; l < 32; l++) {
      let e = tid + l * 32;
      let kk = e % 16;
      let rr = e / 16;
      let gr = m0 + rr;
      let gk = k0 + kk;
      var v = 0.0;
      if ((gr < u.pn) & (gk < t0)) {
        v = b0[(gk + ((gr + u.po) * 16)) - u.o0];
      }
      As[kk * 16 + rr / 4][rr % 4] = v;
    }
    for (var l = 0; l < 4; l++) {
      let e = tid + l * 32;
      let rr = e % 8;
      let kk = e / 8;
      let gr = n0 + rr;
      let gk = k0 + kk;
      var v = 0.0;
      if ((gr < 8) & (gk < t0)) {
        v = b1[((gk * 8) + gr)];
      }
      Bs[kk * 2 + rr / 4][rr % 4] = v;
    }
    workgroupBarrier();
    for (var kk = 0; kk < 16; kk++) {
      let a = As[kk * 16 + ty];
      let b = Bs[kk * 2 + tx];
      c0_0 = c0_0 + a.x * b;
      c0_1 = c0_1 + a.y * b;
      c0_2 = c0_2 + a.z * b;
      c0_3 = c0_3 + a.w * b;
    }
    workgroupBarrier();
  }
  for (var i = 0; i < 4; i++) {
    let gm = m0 + ty * 4 + i;
    if (gm < u.pn) {
      let r0 = select(select(select(c0_0, c0_1, i == 1), c0_2, i == 2), c0_3, i == 3);
      for (var j = 0; j < 4; j++) {
        let gn = n0 + tx * 4 + j;
        if (gn < 8) {
          epilogue(gm + u.po, gn, r0[j]);
        }
      }
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

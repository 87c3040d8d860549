@group(0) @binding(0) var<storage, read> b0: array<f32>;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;

struct Args {
  d0: i32, // dim B
  pn: i32, // dim #p0n
  po: i32, // split first p0
  o1: i32, // split base of b1
}
@group(0) @binding(2) var<uniform> u: Args;

var<workgroup> red: array<u32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let prog = i32(wid.x + wid.y * nwg.x);
  if (prog >= u.pn) {
    return;
  }
  let tid = i32(lid);
  let p0 = prog + u.po;
  var part1: f32 = 0.0;
  {
    for (var e0 = tid; e0 < u.d0; e0 += 256) {
      part1 = part1 + b0[(p0 + (e0 * 3))];
    }
  }
  red[tid] = bitcast<u32>(part1);
  workgroupBarrier();
  for (var h = 128; h > 0; h = h / 2) {
    if (tid < h) {
      red[tid] = bitcast<u32>(bitcast<f32>(red[tid]) + bitcast<f32>(red[tid + h]));
    }
    workgroupBarrier();
  }
  let a1 = bitcast<f32>(red[0]);
  if (tid == 0) {
    {
      b1[p0 - u.o1] = a1;
    }
  }
}

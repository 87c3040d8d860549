(module
 (type $0 (func (param i32 i32 i32 i32 i32 i32)))
 (import "env" "memory" (memory $mimport$0 0))
 (export "g_k0" (func $0))
 (func $0 (param $0 i32) (param $1 i32) (param $2 i32) (param $3 i32) (param $4 i32) (param $5 i32)
  (local $6 i32)
  (local $7 i32)
  (local $8 i32)
  (local $9 v128)
  (if
   (i32.lt_s
    (local.get $4)
    (local.get $5)
   )
   (then
    (loop $label1
     (local.set $3
      (i32.const 0)
     )
     (local.set $7
      (i32.add
       (local.get $0)
       (local.tee $6
        (i32.shl
         (local.get $4)
         (i32.const 5)
        )
       )
      )
     )
     (local.set $8
      (i32.add
       (local.get $2)
       (local.get $6)
      )
     )
     (loop $label
      (v128.store align=4
       (i32.add
        (local.get $8)
        (local.tee $6
         (i32.shl
          (local.get $3)
          (i32.const 2)
         )
        )
       )
       (f32x4.mul
        (f32x4.add
         (local.tee $9
          (v128.load align=4
           (i32.add
            (local.get $6)
            (local.get $7)
           )
          )
         )
         (v128.load align=4
          (i32.add
           (local.get $1)
           (local.get $6)
          )
         )
        )
        (f32x4.max
         (local.get $9)
         (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
        )
       )
      )
      (br_if $label
       (i32.le_s
        (i32.add
         (local.tee $3
          (i32.add
           (local.get $3)
           (i32.const 4)
          )
         )
         (i32.const 4)
        )
        (i32.const 8)
       )
      )
     )
     (br_if $label1
      (i32.lt_s
       (local.tee $4
        (i32.add
         (local.get $4)
         (i32.const 1)
        )
       )
       (local.get $5)
      )
     )
    )
   )
  )
 )
)

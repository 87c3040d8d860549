(module
 (type $0 (func (param i32 i32 i32 i32 i32 i32 i32 i32)))
 (type $1 (func (param i32) (result i32)))
 (import "env" "memory" (memory $mimport$0 0))
 (export "g_k0" (func $0))
 (export "g_k0_scratch_bytes" (func $1))
 (func $0 (param $0 i32) (param $1 i32) (param $2 i32) (param $3 i32) (param $4 i32) (param $5 i32) (param $6 i32) (param $7 i32)
  (local $8 i32)
  (local $9 i32)
  (local $10 i32)
  (local $11 i32)
  (local $12 i32)
  (local $13 i32)
  (local $14 i32)
  (local $15 i32)
  (local $16 i32)
  (local $17 i32)
  (local $18 i32)
  (local $19 i32)
  (local $20 v128)
  (local $21 v128)
  (local $22 v128)
  (local $23 v128)
  (local $24 v128)
  (local $25 v128)
  (local $26 v128)
  (local $27 v128)
  (local $28 v128)
  (local $29 v128)
  (local $30 v128)
  (loop $label1
   (local.set $13
    (i32.const 0)
   )
   (loop $label
    (v128.store align=4
     (local.tee $8
      (i32.add
       (local.get $7)
       (i32.shl
        (i32.add
         (i32.shl
          (local.get $11)
          (i32.const 4)
         )
         (local.get $13)
        )
        (i32.const 5)
       )
      )
     )
     (v128.load align=4
      (i32.add
       (local.tee $9
        (i32.add
         (local.get $1)
         (i32.shl
          (local.get $13)
          (i32.const 5)
         )
        )
       )
       (i32.shl
        (local.get $11)
        (i32.const 5)
       )
      )
     )
    )
    (v128.store offset=16 align=4
     (local.get $8)
     (v128.load align=4
      (i32.add
       (i32.shl
        (i32.add
         (i32.shl
          (local.get $11)
          (i32.const 3)
         )
         (i32.const 4)
        )
        (i32.const 2)
       )
       (local.get $9)
      )
     )
    )
    (br_if $label
     (i32.lt_s
      (local.tee $13
       (i32.add
        (local.get $13)
        (i32.const 1)
       )
      )
      (i32.const 16)
     )
    )
   )
   (br_if $label1
    (i32.le_s
     (local.tee $11
      (i32.add
       (local.get $11)
       (i32.const 1)
      )
     )
     (i32.const 0)
    )
   )
  )
  (local.set $11
   (i32.add
    (local.tee $16
     (i32.add
      (local.get $7)
      (i32.const 512)
     )
    )
    (i32.shl
     (select
      (i32.const 64)
      (local.tee $1
       (i32.and
        (i32.add
         (local.get $4)
         (i32.const 3)
        )
        (i32.const -4)
       )
      )
      (i32.ge_s
       (local.get $1)
       (i32.const 64)
      )
     )
     (i32.const 6)
    )
   )
  )
  (if
   (i32.lt_s
    (local.get $5)
    (local.get $6)
   )
   (then
    (loop $label10
     (local.set $9
      (i32.const 0)
     )
     (if
      (i32.gt_u
       (local.tee $14
        (i32.shr_u
         (i32.add
          (i32.sub
           (local.tee $13
            (select
             (local.tee $1
              (i32.sub
               (local.get $5)
               (i32.const -64)
              )
             )
             (local.get $6)
             (i32.lt_s
              (local.get $1)
              (local.get $6)
             )
            )
           )
           (local.get $5)
          )
          (i32.const 3)
         )
         (i32.const 2)
        )
       )
       (i32.const 0)
      )
      (then
       (loop $label4
        (local.set $8
         (i32.add
          (local.get $16)
          (i32.shl
           (local.get $9)
           (i32.const 8)
          )
         )
        )
        (if
         (i32.le_s
          (i32.add
           (local.tee $1
            (i32.add
             (local.get $5)
             (i32.shl
              (local.get $9)
              (i32.const 2)
             )
            )
           )
           (i32.const 4)
          )
          (local.get $13)
         )
         (then
          (local.set $4
           (i32.const 0)
          )
          (loop $label2
           (v128.store align=4
            (local.tee $12
             (i32.add
              (local.get $8)
              (i32.shl
               (local.get $4)
               (i32.const 4)
              )
             )
            )
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
             (local.tee $22
              (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
               (local.tee $20
                (v128.load align=4
                 (i32.add
                  (local.tee $10
                   (i32.add
                    (local.get $0)
                    (i32.shl
                     (local.get $4)
                     (i32.const 2)
                    )
                   )
                  )
                  (i32.shl
                   (local.get $1)
                   (i32.const 6)
                  )
                 )
                )
               )
               (local.tee $21
                (v128.load align=4
                 (i32.add
                  (i32.shl
                   (i32.add
                    (local.get $1)
                    (i32.const 1)
                   )
                   (i32.const 6)
                  )
                  (local.get $10)
                 )
                )
               )
              )
             )
             (local.tee $25
              (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
               (local.tee $23
                (v128.load align=4
                 (i32.add
                  (i32.shl
                   (i32.add
                    (local.get $1)
                    (i32.const 2)
                   )
                   (i32.const 6)
                  )
                  (local.get $10)
                 )
                )
               )
               (local.tee $24
                (v128.load align=4
                 (i32.add
                  (i32.shl
                   (i32.add
                    (local.get $1)
                    (i32.const 3)
                   )
                   (i32.const 6)
                  )
                  (local.get $10)
                 )
                )
               )
              )
             )
            )
           )
           (v128.store offset=16 align=4
            (local.get $12)
            (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31
             (local.get $22)
             (local.get $25)
            )
           )
           (v128.store offset=32 align=4
            (local.get $12)
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
             (local.tee $20
              (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31
               (local.get $20)
               (local.get $21)
              )
             )
             (local.tee $21
              (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31
               (local.get $23)
               (local.get $24)
              )
             )
            )
           )
           (v128.store offset=48 align=4
            (local.get $12)
            (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31
             (local.get $20)
             (local.get $21)
            )
           )
           (br_if $label2
            (i32.lt_s
             (local.tee $4
              (i32.add
               (local.get $4)
               (i32.const 4)
              )
             )
             (i32.const 16)
            )
           )
          )
         )
         (else
          (local.set $4
           (i32.const 0)
          )
          (loop $label3
           (f32.store
            (i32.add
             (local.get $8)
             (i32.shl
              (local.get $4)
              (i32.const 4)
             )
            )
            (if (result f32)
             (i32.lt_s
              (local.get $1)
              (local.get $13)
             )
             (then
              (f32.load
               (i32.add
                (i32.add
                 (local.get $0)
                 (i32.shl
                  (local.get $4)
                  (i32.const 2)
                 )
                )
                (i32.shl
                 (local.get $1)
                 (i32.const 6)
                )
               )
              )
             )
             (else
              (f32.const 0)
             )
            )
           )
           (f32.store offset=4
            (i32.add
             (local.get $8)
             (i32.shl
              (local.get $4)
              (i32.const 4)
             )
            )
            (if (result f32)
             (i32.lt_s
              (local.tee $12
               (i32.add
                (local.get $1)
                (i32.const 1)
               )
              )
              (local.get $13)
             )
             (then
              (f32.load
               (i32.add
                (i32.add
                 (local.get $0)
                 (i32.shl
                  (local.get $4)
                  (i32.const 2)
                 )
                )
                (i32.shl
                 (local.get $12)
                 (i32.const 6)
                )
               )
              )
             )
             (else
              (f32.const 0)
             )
            )
           )
           (f32.store offset=8
            (i32.add
             (local.get $8)
             (i32.shl
              (local.get $4)
              (i32.const 4)
             )
            )
            (if (result f32)
             (i32.lt_s
              (local.tee $12
               (i32.add
                (local.get $1)
                (i32.const 2)
               )
              )
              (local.get $13)
             )
             (then
              (f32.load
               (i32.add
                (i32.add
                 (local.get $0)
                 (i32.shl
                  (local.get $4)
                  (i32.const 2)
                 )
                )
                (i32.shl
                 (local.get $12)
                 (i32.const 6)
                )
               )
              )
             )
             (else
              (f32.const 0)
             )
            )
           )
           (f32.store offset=12
            (i32.add
             (local.get $8)
             (i32.shl
              (local.get $4)
              (i32.const 4)
             )
            )
            (if (result f32)
             (i32.lt_s
              (local.tee $12
               (i32.add
                (local.get $1)
                (i32.const 3)
               )
              )
              (local.get $13)
             )
             (then
              (f32.load
               (i32.add
                (i32.add
                 (local.get $0)
                 (i32.shl
                  (local.get $4)
                  (i32.const 2)
                 )
                )
                (i32.shl
                 (local.get $12)
                 (i32.const 6)
                )
               )
              )
             )
             (else
              (f32.const 0)
             )
            )
           )
           (br_if $label3
            (i32.lt_s
             (local.tee $4
              (i32.add
               (local.get $4)
               (i32.const 1)
              )
             )
             (i32.const 16)
            )
           )
          )
         )
        )
        (br_if $label4
         (i32.lt_s
          (local.tee $9
           (i32.add
            (local.get $9)
            (i32.const 1)
           )
          )
          (local.get $14)
         )
        )
       )
      )
     )
     (local.set $12
      (i32.const 0)
     )
     (local.set $17
      (i32.shr_u
       (i32.add
        (i32.sub
         (local.get $13)
         (local.get $5)
        )
        (i32.const 3)
       )
       (i32.const 2)
      )
     )
     (loop $label9
      (local.set $14
       (i32.const 0)
      )
      (if
       (i32.gt_u
        (local.get $17)
        (i32.const 0)
       )
       (then
        (local.set $1
         (i32.shl
          (local.get $12)
          (i32.const 3)
         )
        )
        (loop $label8
         (local.set $4
          (i32.add
           (local.get $5)
           (i32.shl
            (local.get $14)
            (i32.const 2)
           )
          )
         )
         (local.set $20
          (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
         )
         (local.set $21
          (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
         )
         (local.set $22
          (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
         )
         (local.set $23
          (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
         )
         (local.set $24
          (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
         )
         (local.set $25
          (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
         )
         (local.set $28
          (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
         )
         (local.set $29
          (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
         )
         (local.set $8
          (i32.add
           (local.get $16)
           (i32.shl
            (local.get $14)
            (i32.const 8)
           )
          )
         )
         (local.set $10
          (i32.add
           (local.tee $9
            (i32.add
             (local.get $7)
             (i32.shl
              (local.get $12)
              (i32.const 9)
             )
            )
           )
           (i32.const 512)
          )
         )
         (loop $label5
          (local.set $20
           (f32x4.add
            (f32x4.mul
             (local.tee $26
              (v128.load32_splat
               (local.get $8)
              )
             )
             (local.tee $30
              (v128.load
               (local.get $9)
              )
             )
            )
            (local.get $20)
           )
          )
          (local.set $21
           (f32x4.add
            (f32x4.mul
             (local.get $26)
             (local.tee $26
              (v128.load offset=16
               (local.get $9)
              )
             )
            )
            (local.get $21)
           )
          )
          (local.set $22
           (f32x4.add
            (f32x4.mul
             (local.tee $27
              (v128.load32_splat offset=4
               (local.get $8)
              )
             )
             (local.get $30)
            )
            (local.get $22)
           )
          )
          (local.set $23
           (f32x4.add
            (f32x4.mul
             (local.get $27)
             (local.get $26)
            )
            (local.get $23)
           )
          )
          (local.set $24
           (f32x4.add
            (f32x4.mul
             (local.tee $27
              (v128.load32_splat offset=8
               (local.get $8)
              )
             )
             (local.get $30)
            )
            (local.get $24)
           )
          )
          (local.set $25
           (f32x4.add
            (f32x4.mul
             (local.get $27)
             (local.get $26)
            )
            (local.get $25)
           )
          )
          (local.set $28
           (f32x4.add
            (f32x4.mul
             (local.tee $27
              (v128.load32_splat offset=12
               (local.get $8)
              )
             )
             (local.get $30)
            )
            (local.get $28)
           )
          )
          (local.set $29
           (f32x4.add
            (f32x4.mul
             (local.get $27)
             (local.get $26)
            )
            (local.get $29)
           )
          )
          (local.set $8
           (i32.add
            (local.get $8)
            (i32.const 16)
           )
          )
          (br_if $label5
           (i32.gt_u
            (local.get $10)
            (local.tee $9
             (i32.add
              (local.get $9)
              (i32.const 32)
             )
            )
           )
          )
         )
         (local.set $8
          (select
           (i32.const 4)
           (local.tee $8
            (i32.sub
             (local.get $13)
             (local.get $4)
            )
           )
           (i32.ge_s
            (local.get $8)
            (i32.const 4)
           )
          )
         )
         (if
          (i32.le_s
           (i32.add
            (local.get $1)
            (i32.const 8)
           )
           (i32.const 8)
          )
          (then
           (v128.store align=4
            (i32.add
             (local.tee $10
              (i32.shl
               (local.get $1)
               (i32.const 2)
              )
             )
             (local.tee $9
              (i32.add
               (local.get $3)
               (i32.shl
                (local.get $4)
                (i32.const 5)
               )
              )
             )
            )
            (f32x4.max
             (f32x4.add
              (local.get $20)
              (v128.load align=4
               (i32.add
                (local.get $2)
                (local.get $10)
               )
              )
             )
             (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
            )
           )
           (v128.store align=4
            (i32.add
             (local.get $9)
             (local.tee $15
              (i32.shl
               (i32.add
                (local.get $1)
                (i32.const 4)
               )
               (i32.const 2)
              )
             )
            )
            (f32x4.max
             (f32x4.add
              (local.get $21)
              (v128.load align=4
               (i32.add
                (local.get $2)
                (local.get $15)
               )
              )
             )
             (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
            )
           )
           (if
            (i32.gt_s
             (local.get $8)
             (i32.const 1)
            )
            (then
             (v128.store align=4
              (i32.add
               (local.tee $9
                (i32.add
                 (local.get $3)
                 (i32.shl
                  (i32.add
                   (local.get $4)
                   (i32.const 1)
                  )
                  (i32.const 5)
                 )
                )
               )
               (local.get $10)
              )
              (f32x4.max
               (f32x4.add
                (local.get $22)
                (v128.load align=4
                 (i32.add
                  (local.get $2)
                  (i32.shl
                   (local.get $1)
                   (i32.const 2)
                  )
                 )
                )
               )
               (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
              )
             )
             (v128.store align=4
              (i32.add
               (local.get $9)
               (i32.shl
                (i32.add
                 (local.get $1)
                 (i32.const 4)
                )
                (i32.const 2)
               )
              )
              (f32x4.max
               (f32x4.add
                (local.get $23)
                (v128.load align=4
                 (i32.add
                  (local.get $2)
                  (i32.shl
                   (i32.add
                    (local.get $1)
                    (i32.const 4)
                   )
                   (i32.const 2)
                  )
                 )
                )
               )
               (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
              )
             )
            )
           )
           (if
            (i32.gt_s
             (local.get $8)
             (i32.const 2)
            )
            (then
             (v128.store align=4
              (i32.add
               (local.tee $10
                (i32.shl
                 (local.get $1)
                 (i32.const 2)
                )
               )
               (local.tee $9
                (i32.add
                 (local.get $3)
                 (i32.shl
                  (i32.add
                   (local.get $4)
                   (i32.const 2)
                  )
                  (i32.const 5)
                 )
                )
               )
              )
              (f32x4.max
               (f32x4.add
                (local.get $24)
                (v128.load align=4
                 (i32.add
                  (local.get $2)
                  (local.get $10)
                 )
                )
               )
               (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
              )
             )
             (v128.store align=4
              (i32.add
               (local.get $9)
               (local.tee $10
                (i32.shl
                 (i32.add
                  (local.get $1)
                  (i32.const 4)
                 )
                 (i32.const 2)
                )
               )
              )
              (f32x4.max
               (f32x4.add
                (local.get $25)
                (v128.load align=4
                 (i32.add
                  (local.get $2)
                  (local.get $10)
                 )
                )
               )
               (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
              )
             )
            )
           )
           (if
            (i32.gt_s
             (local.get $8)
             (i32.const 3)
            )
            (then
             (v128.store align=4
              (i32.add
               (local.tee $8
                (i32.shl
                 (local.get $1)
                 (i32.const 2)
                )
               )
               (local.tee $4
                (i32.add
                 (local.get $3)
                 (i32.shl
                  (i32.add
                   (local.get $4)
                   (i32.const 3)
                  )
                  (i32.const 5)
                 )
                )
               )
              )
              (f32x4.max
               (f32x4.add
                (local.get $28)
                (v128.load align=4
                 (i32.add
                  (local.get $2)
                  (local.get $8)
                 )
                )
               )
               (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
              )
             )
             (v128.store align=4
              (i32.add
               (local.get $4)
               (local.tee $8
                (i32.shl
                 (i32.add
                  (local.get $1)
                  (i32.const 4)
                 )
                 (i32.const 2)
                )
               )
              )
              (f32x4.max
               (f32x4.add
                (local.get $29)
                (v128.load align=4
                 (i32.add
                  (local.get $2)
                  (local.get $8)
                 )
                )
               )
               (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
              )
             )
            )
           )
          )
          (else
           (v128.store
            (local.get $11)
            (local.get $20)
           )
           (v128.store offset=16
            (local.get $11)
            (local.get $21)
           )
           (v128.store offset=32
            (local.get $11)
            (local.get $22)
           )
           (v128.store offset=48
            (local.get $11)
            (local.get $23)
           )
           (v128.store offset=64
            (local.get $11)
            (local.get $24)
           )
           (v128.store offset=80
            (local.get $11)
            (local.get $25)
           )
           (v128.store offset=96
            (local.get $11)
            (local.get $28)
           )
           (v128.store offset=112
            (local.get $11)
            (local.get $29)
           )
           (local.set $10
            (i32.const 0)
           )
           (if
            (i32.gt_s
             (local.get $8)
             (i32.const 0)
            )
            (then
             (local.set $15
              (i32.sub
               (i32.const 8)
               (local.get $1)
              )
             )
             (loop $label7
              (local.set $9
               (i32.const 0)
              )
              (if
               (i32.gt_s
                (local.get $15)
                (i32.const 0)
               )
               (then
                (local.set $18
                 (i32.add
                  (local.get $3)
                  (i32.shl
                   (i32.add
                    (local.get $4)
                    (local.get $10)
                   )
                   (i32.const 5)
                  )
                 )
                )
                (loop $label6
                 (f32.store
                  (i32.add
                   (local.get $18)
                   (local.tee $19
                    (i32.shl
                     (i32.add
                      (local.get $1)
                      (local.get $9)
                     )
                     (i32.const 2)
                    )
                   )
                  )
                  (f32.max
                   (f32.add
                    (f32.load
                     (i32.add
                      (local.get $11)
                      (i32.shl
                       (i32.add
                        (i32.shl
                         (local.get $10)
                         (i32.const 3)
                        )
                        (local.get $9)
                       )
                       (i32.const 2)
                      )
                     )
                    )
                    (f32.load
                     (i32.add
                      (local.get $2)
                      (local.get $19)
                     )
                    )
                   )
                   (f32.const 0)
                  )
                 )
                 (br_if $label6
                  (i32.lt_s
                   (local.tee $9
                    (i32.add
                     (local.get $9)
                     (i32.const 1)
                    )
                   )
                   (local.get $15)
                  )
                 )
                )
               )
              )
              (br_if $label7
               (i32.lt_s
                (local.tee $10
                 (i32.add
                  (local.get $10)
                  (i32.const 1)
                 )
                )
                (local.get $8)
               )
              )
             )
            )
           )
          )
         )
         (br_if $label8
          (i32.lt_s
           (local.tee $14
            (i32.add
             (local.get $14)
             (i32.const 1)
            )
           )
           (local.get $17)
          )
         )
        )
       )
      )
      (br_if $label9
       (i32.le_s
        (local.tee $12
         (i32.add
          (local.get $12)
          (i32.const 1)
         )
        )
        (i32.const 0)
       )
      )
     )
     (br_if $label10
      (i32.lt_s
       (local.tee $5
        (i32.sub
         (local.get $5)
         (i32.const -64)
        )
       )
       (local.get $6)
      )
     )
    )
   )
  )
 )
 (func $1 (param $0 i32) (result i32)
  (i32.add
   (i32.shl
    (select
     (i32.const 64)
     (local.tee $0
      (i32.and
       (i32.add
        (local.get $0)
        (i32.const 3)
       )
       (i32.const -4)
      )
     )
     (i32.ge_s
      (local.get $0)
      (i32.const 64)
     )
    )
    (i32.const 6)
   )
   (i32.const 640)
  )
 )
)

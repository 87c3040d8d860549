(module
 (type $0 (func (param i32 i32 i32 i32 i32)))
 (import "env" "memory" (memory $mimport$0 0))
 (export "g_k0" (func $0))
 (func $0 (param $0 i32) (param $1 i32) (param $2 i32) (param $3 i32) (param $4 i32)
  (local $5 v128)
  (local $6 v128)
  (local $7 v128)
  (local $8 v128)
  (local $9 f32)
  (local $10 f32)
  (local $11 f32)
  (local $12 f32)
  (local $13 i32)
  (local $14 i32)
  (local $15 i32)
  (if
   (i32.lt_s
    (local.get $3)
    (local.get $4)
   )
   (then
    (loop $label6
     (local.set $5
      (v128.const i32x4 0xff800000 0xff800000 0xff800000 0xff800000)
     )
     (local.set $9
      (f32.const -inf)
     )
     (local.set $2
      (i32.const 0)
     )
     (local.set $13
      (i32.add
       (local.get $0)
       (i32.mul
        (local.get $3)
        (i32.const 40)
       )
      )
     )
     (loop $label
      (local.set $5
       (f32x4.max
        (local.get $5)
        (v128.load align=4
         (i32.add
          (local.get $13)
          (i32.shl
           (local.get $2)
           (i32.const 2)
          )
         )
        )
       )
      )
      (br_if $label
       (i32.le_s
        (i32.add
         (local.tee $2
          (i32.add
           (local.get $2)
           (i32.const 4)
          )
         )
         (i32.const 4)
        )
        (i32.const 10)
       )
      )
     )
     (loop $label1
      (local.set $9
       (f32.max
        (f32.load
         (i32.add
          (local.get $13)
          (i32.shl
           (local.get $2)
           (i32.const 2)
          )
         )
        )
        (local.get $9)
       )
      )
      (br_if $label1
       (i32.lt_s
        (local.tee $2
         (i32.add
          (local.get $2)
          (i32.const 1)
         )
        )
        (i32.const 10)
       )
      )
     )
     (local.set $6
      (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
     )
     (local.set $10
      (f32.const 0)
     )
     (local.set $2
      (i32.const 0)
     )
     (local.set $7
      (f32x4.splat
       (local.tee $11
        (f32.max
         (f32.max
          (f32.max
           (f32x4.extract_lane 0
            (local.tee $5
             (f32x4.max
              (f32x4.max
               (local.get $5)
               (v128.const i32x4 0xff800000 0xff800000 0xff800000 0xff800000)
              )
              (v128.const i32x4 0xff800000 0xff800000 0xff800000 0xff800000)
             )
            )
           )
           (f32x4.extract_lane 1
            (local.get $5)
           )
          )
          (f32.max
           (f32x4.extract_lane 2
            (local.get $5)
           )
           (f32x4.extract_lane 3
            (local.get $5)
           )
          )
         )
         (local.get $9)
        )
       )
      )
     )
     (loop $label2
      (local.set $6
       (f32x4.add
        (local.get $6)
        (f32x4.mul
         (f32x4.mul
          (f32x4.add
           (v128.const i32x4 0x3f800000 0x3f800000 0x3f800000 0x3f800000)
           (f32x4.add
            (f32x4.mul
             (f32x4.mul
              (local.tee $5
               (f32x4.add
                (f32x4.mul
                 (local.tee $6
                  (f32x4.nearest
                   (f32x4.mul
                    (local.tee $5
                     (f32x4.pmin
                      (f32x4.pmax
                       (f32x4.sub
                        (v128.load align=4
                         (i32.add
                          (local.get $13)
                          (i32.shl
                           (local.get $2)
                           (i32.const 2)
                          )
                         )
                        )
                        (local.get $7)
                       )
                       (v128.const i32x4 0xc2d00000 0xc2d00000 0xc2d00000 0xc2d00000)
                      )
                      (v128.const i32x4 0x42b20000 0x42b20000 0x42b20000 0x42b20000)
                     )
                    )
                    (v128.const i32x4 0x3fb8aa3b 0x3fb8aa3b 0x3fb8aa3b 0x3fb8aa3b)
                   )
                  )
                 )
                 (v128.const i32x4 0xb5bfbe8e 0xb5bfbe8e 0xb5bfbe8e 0xb5bfbe8e)
                )
                (f32x4.add
                 (f32x4.mul
                  (local.get $6)
                  (v128.const i32x4 0xbf317200 0xbf317200 0xbf317200 0xbf317200)
                 )
                 (local.get $5)
                )
               )
              )
              (local.get $5)
             )
             (f32x4.add
              (f32x4.mul
               (f32x4.add
                (f32x4.mul
                 (f32x4.add
                  (f32x4.mul
                   (f32x4.add
                    (f32x4.mul
                     (v128.const i32x4 0x3ab5f600 0x3ab5f600 0x3ab5f600 0x3ab5f600)
                     (local.get $5)
                    )
                    (v128.const i32x4 0x3c0913ce 0x3c0913ce 0x3c0913ce 0x3c0913ce)
                   )
                   (local.get $5)
                  )
                  (v128.const i32x4 0x3d2aab3a 0x3d2aab3a 0x3d2aab3a 0x3d2aab3a)
                 )
                 (local.get $5)
                )
                (v128.const i32x4 0x3e2aaa58 0x3e2aaa58 0x3e2aaa58 0x3e2aaa58)
               )
               (local.get $5)
              )
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)
             )
            )
            (local.get $5)
           )
          )
          (i32x4.shl
           (f32x4.add
            (local.tee $5
             (f32x4.trunc
              (f32x4.mul
               (local.get $6)
               (v128.const i32x4 0x3f000000 0x3f000000 0x3f000000 0x3f000000)
              )
             )
            )
            (v128.const i32x4 0x4b00007f 0x4b00007f 0x4b00007f 0x4b00007f)
           )
           (i32.const 23)
          )
         )
         (i32x4.shl
          (f32x4.add
           (f32x4.sub
            (local.get $6)
            (local.get $5)
           )
           (v128.const i32x4 0x4b00007f 0x4b00007f 0x4b00007f 0x4b00007f)
          )
          (i32.const 23)
         )
        )
       )
      )
      (br_if $label2
       (i32.le_s
        (i32.add
         (local.tee $2
          (i32.add
           (local.get $2)
           (i32.const 4)
          )
         )
         (i32.const 4)
        )
        (i32.const 10)
       )
      )
     )
     (loop $label3
      (local.set $10
       (f32.add
        (local.get $10)
        (f32.mul
         (f32.mul
          (f32.add
           (f32.add
            (f32.mul
             (f32.mul
              (local.tee $9
               (f32.add
                (f32.mul
                 (local.tee $10
                  (f32.nearest
                   (f32.mul
                    (local.tee $9
                     (f32.min
                      (f32.max
                       (f32.sub
                        (f32.load
                         (i32.add
                          (local.get $13)
                          (i32.shl
                           (local.get $2)
                           (i32.const 2)
                          )
                         )
                        )
                        (local.get $11)
                       )
                       (f32.const -104)
                      )
                      (f32.const 89)
                     )
                    )
                    (f32.const 1.4426950216293335)
                   )
                  )
                 )
                 (f32.const -1.428606765330187e-06)
                )
                (f32.add
                 (f32.mul
                  (local.get $10)
                  (f32.const -0.693145751953125)
                 )
                 (local.get $9)
                )
               )
              )
              (local.get $9)
             )
             (f32.add
              (f32.mul
               (f32.add
                (f32.mul
                 (f32.add
                  (f32.mul
                   (f32.add
                    (f32.mul
                     (local.get $9)
                     (f32.const 0.001388251781463623)
                    )
                    (f32.const 0.0083665382117033)
                   )
                   (local.get $9)
                  )
                  (f32.const 0.04166720062494278)
                 )
                 (local.get $9)
                )
                (f32.const 0.1666654348373413)
               )
               (local.get $9)
              )
              (f32.const 0.4999999701976776)
             )
            )
            (local.get $9)
           )
           (f32.const 1)
          )
          (f32.reinterpret_i32
           (i32.shl
            (i32.reinterpret_f32
             (f32.add
              (local.tee $9
               (f32.trunc
                (f32.mul
                 (local.get $10)
                 (f32.const 0.5)
                )
               )
              )
              (f32.const 8388735)
             )
            )
            (i32.const 23)
           )
          )
         )
         (f32.reinterpret_i32
          (i32.shl
           (i32.reinterpret_f32
            (f32.add
             (f32.sub
              (local.get $10)
              (local.get $9)
             )
             (f32.const 8388735)
            )
           )
           (i32.const 23)
          )
         )
        )
       )
      )
      (br_if $label3
       (i32.lt_s
        (local.tee $2
         (i32.add
          (local.get $2)
          (i32.const 1)
         )
        )
        (i32.const 10)
       )
      )
     )
     (local.set $2
      (i32.const 0)
     )
     (local.set $8
      (f32x4.splat
       (local.tee $12
        (f32.add
         (f32.add
          (f32.add
           (f32x4.extract_lane 0
            (local.tee $5
             (f32x4.add
              (f32x4.add
               (local.get $6)
               (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
              )
              (v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
             )
            )
           )
           (f32x4.extract_lane 1
            (local.get $5)
           )
          )
          (f32.add
           (f32x4.extract_lane 2
            (local.get $5)
           )
           (f32x4.extract_lane 3
            (local.get $5)
           )
          )
         )
         (local.get $10)
        )
       )
      )
     )
     (local.set $15
      (i32.add
       (local.get $1)
       (i32.mul
        (local.get $3)
        (i32.const 40)
       )
      )
     )
     (loop $label4
      (v128.store align=4
       (i32.add
        (local.get $15)
        (local.tee $14
         (i32.shl
          (local.get $2)
          (i32.const 2)
         )
        )
       )
       (f32x4.div
        (f32x4.mul
         (f32x4.mul
          (f32x4.add
           (v128.const i32x4 0x3f800000 0x3f800000 0x3f800000 0x3f800000)
           (f32x4.add
            (f32x4.mul
             (f32x4.mul
              (local.tee $5
               (f32x4.add
                (f32x4.mul
                 (local.tee $6
                  (f32x4.nearest
                   (f32x4.mul
                    (local.tee $5
                     (f32x4.pmin
                      (f32x4.pmax
                       (f32x4.sub
                        (v128.load align=4
                         (i32.add
                          (local.get $13)
                          (local.get $14)
                         )
                        )
                        (local.get $7)
                       )
                       (v128.const i32x4 0xc2d00000 0xc2d00000 0xc2d00000 0xc2d00000)
                      )
                      (v128.const i32x4 0x42b20000 0x42b20000 0x42b20000 0x42b20000)
                     )
                    )
                    (v128.const i32x4 0x3fb8aa3b 0x3fb8aa3b 0x3fb8aa3b 0x3fb8aa3b)
                   )
                  )
                 )
                 (v128.const i32x4 0xb5bfbe8e 0xb5bfbe8e 0xb5bfbe8e 0xb5bfbe8e)
                )
                (f32x4.add
                 (f32x4.mul
                  (local.get $6)
                  (v128.const i32x4 0xbf317200 0xbf317200 0xbf317200 0xbf317200)
                 )
                 (local.get $5)
                )
               )
              )
              (local.get $5)
             )
             (f32x4.add
              (f32x4.mul
               (f32x4.add
                (f32x4.mul
                 (f32x4.add
                  (f32x4.mul
                   (f32x4.add
                    (f32x4.mul
                     (v128.const i32x4 0x3ab5f600 0x3ab5f600 0x3ab5f600 0x3ab5f600)
                     (local.get $5)
                    )
                    (v128.const i32x4 0x3c0913ce 0x3c0913ce 0x3c0913ce 0x3c0913ce)
                   )
                   (local.get $5)
                  )
                  (v128.const i32x4 0x3d2aab3a 0x3d2aab3a 0x3d2aab3a 0x3d2aab3a)
                 )
                 (local.get $5)
                )
                (v128.const i32x4 0x3e2aaa58 0x3e2aaa58 0x3e2aaa58 0x3e2aaa58)
               )
               (local.get $5)
              )
              (v128.const i32x4 0x3effffff 0x3effffff 0x3effffff 0x3effffff)
             )
            )
            (local.get $5)
           )
          )
          (i32x4.shl
           (f32x4.add
            (local.tee $5
             (f32x4.trunc
              (f32x4.mul
               (local.get $6)
               (v128.const i32x4 0x3f000000 0x3f000000 0x3f000000 0x3f000000)
              )
             )
            )
            (v128.const i32x4 0x4b00007f 0x4b00007f 0x4b00007f 0x4b00007f)
           )
           (i32.const 23)
          )
         )
         (i32x4.shl
          (f32x4.add
           (f32x4.sub
            (local.get $6)
            (local.get $5)
           )
           (v128.const i32x4 0x4b00007f 0x4b00007f 0x4b00007f 0x4b00007f)
          )
          (i32.const 23)
         )
        )
        (local.get $8)
       )
      )
      (br_if $label4
       (i32.le_s
        (i32.add
         (local.tee $2
          (i32.add
           (local.get $2)
           (i32.const 4)
          )
         )
         (i32.const 4)
        )
        (i32.const 10)
       )
      )
     )
     (loop $label5
      (f32.store
       (i32.add
        (local.get $15)
        (local.tee $14
         (i32.shl
          (local.get $2)
          (i32.const 2)
         )
        )
       )
       (f32.div
        (f32.mul
         (f32.mul
          (f32.add
           (f32.add
            (f32.mul
             (f32.mul
              (local.tee $9
               (f32.add
                (f32.mul
                 (local.tee $10
                  (f32.nearest
                   (f32.mul
                    (local.tee $9
                     (f32.min
                      (f32.max
                       (f32.sub
                        (f32.load
                         (i32.add
                          (local.get $13)
                          (local.get $14)
                         )
                        )
                        (local.get $11)
                       )
                       (f32.const -104)
                      )
                      (f32.const 89)
                     )
                    )
                    (f32.const 1.4426950216293335)
                   )
                  )
                 )
                 (f32.const -1.428606765330187e-06)
                )
                (f32.add
                 (f32.mul
                  (local.get $10)
                  (f32.const -0.693145751953125)
                 )
                 (local.get $9)
                )
               )
              )
              (local.get $9)
             )
             (f32.add
              (f32.mul
               (f32.add
                (f32.mul
                 (f32.add
                  (f32.mul
                   (f32.add
                    (f32.mul
                     (local.get $9)
                     (f32.const 0.001388251781463623)
                    )
                    (f32.const 0.0083665382117033)
                   )
                   (local.get $9)
                  )
                  (f32.const 0.04166720062494278)
                 )
                 (local.get $9)
                )
                (f32.const 0.1666654348373413)
               )
               (local.get $9)
              )
              (f32.const 0.4999999701976776)
             )
            )
            (local.get $9)
           )
           (f32.const 1)
          )
          (f32.reinterpret_i32
           (i32.shl
            (i32.reinterpret_f32
             (f32.add
              (local.tee $9
               (f32.trunc
                (f32.mul
                 (local.get $10)
                 (f32.const 0.5)
                )
               )
              )
              (f32.const 8388735)
             )
            )
            (i32.const 23)
           )
          )
         )
         (f32.reinterpret_i32
          (i32.shl
           (i32.reinterpret_f32
            (f32.add
             (f32.sub
              (local.get $10)
              (local.get $9)
             )
             (f32.const 8388735)
            )
           )
           (i32.const 23)
          )
         )
        )
        (local.get $12)
       )
      )
      (br_if $label5
       (i32.lt_s
        (local.tee $2
         (i32.add
          (local.get $2)
          (i32.const 1)
         )
        )
        (i32.const 10)
       )
      )
     )
     (br_if $label6
      (i32.lt_s
       (local.tee $3
        (i32.add
         (local.get $3)
         (i32.const 1)
        )
       )
       (local.get $4)
      )
     )
    )
   )
  )
 )
)

from vaccel import Session

with Session() as s:                    # a session on the broker
    s.noop()
    a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]  # A: 2x3, row-major
    b = [7.0, 8.0, 9.0, 10.0, 11.0, 12.0]  # B: 3x2
    c = s.sgemm(2, 2, 3, 1.0, a, 3, b, 2, 0.0, 2)  # in the blas plugin
    print("C =", c)

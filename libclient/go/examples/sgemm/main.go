package main

import (
	"fmt"
	"log"

	"accelring.local/vaccel"
)

func main() {
	var sess vaccel.Session // a session on the broker
	if err := sess.Init(0); err != nil {
		log.Fatal(err)
	}
	defer sess.Release()
	if err := vaccel.NoOp(&sess); err != nil {
		log.Fatal(err)
	}
	a := []float32{1, 2, 3, 4, 5, 6}    // A: 2x3, row-major
	b := []float32{7, 8, 9, 10, 11, 12} // B: 3x2
	c := make([]float32, 4)             // C: 2x2
	if err := vaccel.Sgemm(&sess, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2); err != nil {
		log.Fatal(err) // an *vaccel.Error: errors.Is(err, syscall.EINVAL), ...
	}
	fmt.Println("C =", c)
}

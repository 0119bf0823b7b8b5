// A Go program without crypto/tls, for the Go crypto/tls analysis tests.
package main

import "fmt"

func main() {
	fmt.Println("hello")
}

// A server that binds a fixed port, as most servers not written for portpool do, and answers every
// request with the port getsockname() reports for its listener: under `run --adopt 8000`, the pool
// port. Built with CGO_ENABLED=0, it is a static binary, which only the seccomp path can adopt.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
)

func main() {
	address := ":8000"
	if len(os.Args) > 1 {
		address = os.Args[1]
	}
	listener, err := net.Listen("tcp", address)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	port := listener.Addr().(*net.TCPAddr).Port
	err = http.Serve(listener, http.HandlerFunc(func(writer http.ResponseWriter, request *http.Request) {
		fmt.Fprintf(writer, "%d", port)
	}))
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"vmm/vmm/fcconfig"
)

// MaxBodySize bounds a request body: Firecracker's limit (51200 bytes);
// the largest real body, a drive or a boot source, is well under 1 KiB.
const MaxBodySize = 51200

// decodeBody reads r's body (at most MaxBodySize bytes) into dst as
// strictly as a configuration file. The error is the fault message.
func decodeBody(r *http.Request, dst any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodySize+1))
	if err != nil {
		return fmt.Errorf("reading the request body: %v", err)
	}
	if len(body) > MaxBodySize {
		return fmt.Errorf("the request body is larger than the limit of %d bytes", MaxBodySize)
	}
	if len(body) == 0 {
		return errors.New("the request has no body: send a JSON object")
	}
	return fcconfig.Decode(body, dst)
}

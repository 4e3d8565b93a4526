package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/sirupsen/logrus"
)

// fault is Firecracker's error body (swagger definition Error).
type fault struct {
	FaultMessage string `json:"fault_message"`
}

// writeJSON sends status with v as the JSON body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(fault{FaultMessage: "encoding the response: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// badRequest answers 400 with msg as the fault message: Firecracker's
// answer to every request it cannot carry out.
func badRequest(w http.ResponseWriter, r *http.Request, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	logrus.WithFields(logrus.Fields{"method": r.Method, "path": r.URL.Path}).Debug("API request refused: " + msg)
	writeJSON(w, http.StatusBadRequest, fault{FaultMessage: msg})
}

// noContent answers 204, Firecracker's success for requests that change
// something.
func noContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

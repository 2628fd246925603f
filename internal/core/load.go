package core

import (
	"encoding/json"
	"os"
)

// ReadJSONObject reads the local file at path, which must hold a JSON
// object, for field; it returns nil after reporting a problem. The error
// names the file, never its content, which may be a secret (an env file).
func ReadJSONObject(add AddFunc, field, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		add(field, "%v", err)
		return nil
	}
	var obj map[string]any
	if json.Unmarshal(b, &obj) != nil {
		add(field, "%s is not a JSON object", path)
		return nil
	}
	return b
}

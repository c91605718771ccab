package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

// GenerateKey returns a new P-256 private key for ES256.
func GenerateKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("auth: generate key: %w", err)
	}
	return k, nil
}

// MarshalKey encodes a private key as PEM ("PRIVATE KEY", PKCS #8) for storage.
func MarshalKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("auth: marshal key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseKey decodes a PEM private key written by MarshalKey (PKCS #8) or by
// `openssl ecparam` ("EC PRIVATE KEY", SEC 1). The key must be on P-256.
func ParseKey(data []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("auth: parse key: no PEM block")
	}
	var key *ecdsa.PrivateKey
	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("auth: parse key: %w", err)
		}
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("auth: parse key: %T is not an ECDSA key", k)
		}
		key = ek
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("auth: parse key: %w", err)
		}
		key = k
	default:
		return nil, fmt.Errorf("auth: parse key: unexpected PEM block %q", block.Type)
	}
	if key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("auth: parse key: curve %s, want P-256", key.Curve.Params().Name)
	}
	return key, nil
}

// JWK is one public key of a JWKS (RFC 7517/7518), restricted to EC P-256.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	Kid string `json:"kid,omitempty"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
}

// JWKS is a JSON Web Key Set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// NewJWK describes a P-256 public key as a JWK for ES256 signatures.
func NewJWK(kid string, pub *ecdsa.PublicKey) (JWK, error) {
	raw, err := pub.Bytes() // 0x04 || X || Y, each 32 bytes
	if err != nil {
		return JWK{}, fmt.Errorf("auth: jwk: %w", err)
	}
	if len(raw) != 65 || pub.Curve != elliptic.P256() {
		return JWK{}, errors.New("auth: jwk: key is not on P-256")
	}
	enc := base64.RawURLEncoding
	return JWK{
		Kty: "EC", Crv: "P-256",
		X: enc.EncodeToString(raw[1:33]), Y: enc.EncodeToString(raw[33:]),
		Kid: kid, Alg: Algorithm, Use: "sig",
	}, nil
}

// PublicKey decodes the JWK into an ECDSA public key.
func (k JWK) PublicKey() (*ecdsa.PublicKey, error) {
	if k.Kty != "EC" || k.Crv != "P-256" {
		return nil, fmt.Errorf("auth: jwk %q: unsupported kty %q crv %q", k.Kid, k.Kty, k.Crv)
	}
	if k.Alg != "" && k.Alg != Algorithm {
		return nil, fmt.Errorf("auth: jwk %q: unsupported alg %q", k.Kid, k.Alg)
	}
	if k.Use != "" && k.Use != "sig" {
		return nil, fmt.Errorf("auth: jwk %q: use %q is not sig", k.Kid, k.Use)
	}
	x, errX := base64.RawURLEncoding.DecodeString(k.X)
	y, errY := base64.RawURLEncoding.DecodeString(k.Y)
	if err := errors.Join(errX, errY); err != nil {
		return nil, fmt.Errorf("auth: jwk %q: %w", k.Kid, err)
	}
	if len(x) != 32 || len(y) != 32 {
		return nil, fmt.Errorf("auth: jwk %q: coordinates must be 32 bytes", k.Kid)
	}
	raw := make([]byte, 0, 65)
	raw = append(append(append(raw, 4), x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		return nil, fmt.Errorf("auth: jwk %q: %w", k.Kid, err)
	}
	return pub, nil
}

// ParseJWKS decodes a JWKS document into public keys by kid. Keys that are not
// EC P-256 signing keys or carry no kid are skipped; it is an error when no
// usable key remains.
func ParseJWKS(data []byte) (map[string]*ecdsa.PublicKey, error) {
	var set JWKS
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("auth: parse jwks: %w", err)
	}
	keys := make(map[string]*ecdsa.PublicKey, len(set.Keys))
	var errs []error
	for _, k := range set.Keys {
		if k.Kid == "" {
			continue
		}
		pub, err := k.PublicKey()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		keys[k.Kid] = pub
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("auth: parse jwks: no usable ES256 key: %w", errors.Join(errs...))
	}
	return keys, nil
}

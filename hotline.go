// Package hotline is the wire protocol of the hotline network.
//
// Each party to an agreement on cyber incidents runs a node; nodes exchange
// envelopes: signed, end-to-end encrypted, typed messages. This package
// defines everything a signature covers, byte for byte, and nothing that
// needs a server, a database or the agreement: keys, envelopes, receipts and
// the other signed statements, and the entries of a node's log.
// docs/PROTOCOL.md describes the same formats for implementers in other
// languages.
//
// # Keys
//
// A party holds a [KeySet]: a root key that signs its directory entry, a
// message key that signs envelopes and statements, an HPKE encryption key
// (ML-KEM-768 + X25519), a checkpoint key for its log, and a witness key.
//
// # Envelopes
//
// [Seal] builds an [Envelope]: a signed outer header, one key stanza per
// recipient and a ChaCha20-Poly1305 ciphertext holding the [Inner] header and
// the body. [Parse] and [Read] accept only canonical bytes; [Envelope.Verify]
// checks the signature and the commitments a relay can check;
// [Envelope.Open] decrypts as one recipient. [Envelope.View] is what a node
// sends to one recipient. [Envelope.ID] is the message id.
//
// # Statements
//
// [Receipt], [Heartbeat], [Ratification], [Request] and [RelayReceipt] are
// C2SP signed notes with a fixed tag on the first line.
//
// # Log entries
//
// [LeafEntry] computes the 32-byte entry a node logs for an envelope it sent
// or received, or a receipt it received.
package hotline

// ProtocolVersion names the version of the wire protocol this package
// implements; it is the suffix of every tag.
const ProtocolVersion = "v1"

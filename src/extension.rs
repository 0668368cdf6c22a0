//! The one hook through which a negotiated extension (RFC 6455 §9) transforms messages and
//! claims RSV bits. permessage-deflate (RFC 7692) is its first user; the
//! [`Connection`](crate::Connection) calls it. It sits below both, so neither imports the
//! other.

use alloc::vec::Vec;

use crate::fault::ProtocolError;
use crate::frame::OpCode;

/// A per-message extension plugged into a [`Connection`](crate::Connection).
///
/// The connection calls it only for data messages (control frames are never transformed,
/// RFC 7692 §6.1) and rejects any RSV bit outside [`rsv_bits`](Extension::rsv_bits).
pub trait Extension: Send + core::fmt::Debug {
    /// The RSV bits (`0b100` is RSV1) this extension may set on the first frame of a message.
    fn rsv_bits(&self) -> u8;

    /// A message begins whose first frame carried `rsv`. Returns whether the extension will
    /// decode this message (for permessage-deflate: whether RSV1 is set).
    fn decode_begin(&mut self, rsv: u8) -> Result<bool, ProtocolError>;

    /// Decodes the next piece of a transformed message's payload, appending the result to
    /// `out`. Output beyond `limit` bytes in `out` must fail with
    /// [`ProtocolError::MessageTooLarge`] before it is produced.
    fn decode_chunk(&mut self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), ProtocolError>;

    /// The transformed message's last frame has been fed: flush what remains into `out`
    /// under the same limit.
    fn decode_end(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), ProtocolError>;

    /// The largest encoded (wire) payload a message of `decoded_len` bytes can have: what the
    /// receive side must allow a frame of a transformed message to be, so that every message
    /// within the message limit is accepted however the peer encodes it. The default is
    /// `decoded_len` (no expansion).
    fn max_encoded_len(&self, decoded_len: u64) -> u64 {
        decoded_len
    }

    /// Offers an outgoing message for encoding. Returns `None` to send it as it is, or the RSV
    /// bits to set on its first frame after writing the transformed payload to `out`.
    fn encode(&mut self, opcode: OpCode, payload: &[u8], out: &mut Vec<u8>) -> Option<u8>;
}

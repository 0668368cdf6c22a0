//! [`Connection::send_vectored`]: a message whose payload goes from where the caller holds it
//! into one vectored write, without being copied into the connection or counted by a
//! reference.

use super::send::Pieces;
use super::{Connection, MessageKind};
use crate::fault::UsageError;
use crate::frame::{OpCode, data_frame_header_word};
use crate::role::Role;

/// A message sent with [`Connection::send_vectored`] or
/// [`Connection::send_text_vectored`], whose frame is handed out for one
/// write with the payload where the caller holds it.
///
/// Write its [`pieces`](Self::pieces) (a vectored write), then report how many bytes the
/// transport took with [`written`](Self::written). What the write did not take is copied
/// into the connection's output then, and goes out with the next writes like any other
/// output. Dropped without `written`, it counts as nothing written: the whole message is
/// copied into the output. Either way the message is sent once, whole, in order.
///
/// It borrows the connection: nothing else can be queued between the send and the report, so
/// no frame can come between the header and the payload.
#[must_use = "write the pieces and report what was written; dropped, the message is copied into the output"]
pub struct VectoredSend<'c, 'd> {
    conn: &'c mut Connection,
    /// The frame header of `data`, in its first `head_len` bytes. Empty (`head_len == 0`) when
    /// the message was encoded into the connection's output instead: the pieces are then the
    /// connection's output.
    head: [u8; 16],
    head_len: u8,
    /// The payload, borrowed; emptied once it is accounted for (written or copied).
    data: &'d [u8],
}

impl core::fmt::Debug for VectoredSend<'_, '_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VectoredSend")
            .field("in_place", &self.in_place())
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// The iterator behind [`VectoredSend::pieces`].
enum VectoredPieces<'a> {
    /// The header and the payload where it lies.
    InPlace(core::array::IntoIter<&'a [u8], 2>),
    /// The connection's output, which holds the message.
    Output(Pieces<'a>),
}

impl<'a> Iterator for VectoredPieces<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            VectoredPieces::InPlace(pieces) => pieces.next(),
            VectoredPieces::Output(pieces) => pieces.next(),
        }
    }
}

impl VectoredSend<'_, '_> {
    /// Whether the payload is written from where the caller holds it (see
    /// [`Connection::send_vectored`] for when it is copied into the connection's output
    /// instead).
    #[inline]
    pub fn in_place(&self) -> bool {
        self.head_len != 0
    }

    /// The bytes to write, in order: the frame header then the payload; or, when the message
    /// was copied into the connection's output, all of that output (anything queued before
    /// it, then the message), as [`Connection::output_pieces`] hands it out. Empty pieces are
    /// skipped.
    #[inline]
    pub fn pieces(&mut self) -> impl Iterator<Item = &[u8]> + '_ {
        if self.in_place() {
            // `head_len <= 14`: it is what `data_frame_header_word` made.
            VectoredPieces::InPlace([&self.head[..usize::from(self.head_len)], self.data].into_iter())
        } else {
            VectoredPieces::Output(self.conn.out.hand_out_all(self.conn.config.max_pending_output))
        }
    }

    /// How many bytes [`pieces`](Self::pieces) hands out in all.
    #[inline]
    pub fn len(&self) -> usize {
        if self.in_place() {
            usize::from(self.head_len) + self.data.len()
        } else {
            self.conn.pending_output_len()
        }
    }

    /// Whether there is nothing to write (never for a message sent in place).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The transport took the first `n` bytes of the [`pieces`](Self::pieces) (a partial
    /// write is fine). Whatever of the message it did not take is copied into the
    /// connection's output, to be written like any other output
    /// ([`Connection::poll_output`], [`Connection::write_to`]).
    ///
    /// `n` larger than the pieces is [`UsageError::WrittenTooMuch`] and counts nothing: the
    /// whole message is then copied into the output, as if nothing was written.
    #[inline]
    pub fn written(mut self, n: usize) -> Result<(), UsageError> {
        if !self.in_place() {
            return self.conn.handle_written(n);
        }
        let len = self.len();
        if n > len {
            // `Drop` copies the whole message.
            return Err(UsageError::WrittenTooMuch { written: n, handed_out: len });
        }
        self.keep_unwritten(n);
        Ok(())
    }

    /// Accounts for the payload once the transport took the first `n` bytes of the frame:
    /// what it did not take is copied into the connection's output.
    #[inline]
    fn keep_unwritten(&mut self, n: usize) {
        let data = core::mem::take(&mut self.data);
        if n < usize::from(self.head_len) + data.len() {
            self.copy_unwritten(n, data);
        }
    }

    /// The copy of [`keep_unwritten`](Self::keep_unwritten), out of the way of a write that
    /// took it all.
    #[cold]
    #[inline(never)]
    fn copy_unwritten(&mut self, n: usize, data: &[u8]) {
        let head_len = usize::from(self.head_len);
        // `head_len <= 14`; out-of-range starts give empty rests.
        let head = self.head.get(n.min(head_len)..head_len).unwrap_or_default();
        let payload = data.get(n.saturating_sub(head_len)..).unwrap_or_default();
        self.conn.out.queue_unwritten(head, payload);
    }
}

impl Drop for VectoredSend<'_, '_> {
    #[inline]
    fn drop(&mut self) {
        // `data` is empty once accounted for, and always when the message was copied.
        if !self.data.is_empty() {
            self.keep_unwritten(0);
        }
    }
}

impl Connection {
    /// Sends a message and hands its frame out for one vectored write with the payload where
    /// you hold it: nothing is copied into the connection, and no reference is counted, when
    /// the write takes it all. Write the [`pieces`](VectoredSend::pieces), then report what
    /// was written with [`written`](VectoredSend::written); the rest, if any, is copied into
    /// the connection's output then.
    ///
    /// It does what [`send`](Self::send) does, with the same [`UsageError`]s, and writes the
    /// same bytes. The payload is copied into the output, as `send` copies it, and the pieces
    /// are then all of the output, when:
    ///
    /// * output is already pending (an automatic Pong, a Close, earlier messages): they go
    ///   first, so frames keep their order;
    /// * we are a client: the payload must be masked (§5.3), which needs a copy;
    /// * an extension transforms the message (permessage-deflate), or
    ///   [`Config::fragment_size`](super::Config::fragment_size) splits it;
    /// * the payload is under 2 KiB, where one piece costs less than two.
    ///
    /// [`VectoredSend::in_place`] tells which way it went.
    ///
    /// Use it where the payload is borrowed and the transport is at hand: a server writing a
    /// buffer it keeps (a cache, a broadcast frame's body) straight to its socket. For a
    /// payload you own and hand over, [`send_owned`](Self::send_owned) holds it until it is
    /// written.
    ///
    /// ```
    /// use std::io::{IoSlice, Write};
    /// use rfc6455::{Connection, MessageKind, Role};
    /// use rfc6455::connection::Config;
    ///
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// let page = vec![b'x'; 64 * 1024]; // stays ours
    ///
    /// let mut socket = Vec::new(); // a TcpStream in real use
    /// let mut send = server.send_vectored(MessageKind::Binary, &page)?;
    /// assert!(send.in_place());
    /// let slices: Vec<IoSlice<'_>> = send.pieces().map(IoSlice::new).collect();
    /// let n = socket.write_vectored(&slices)?; // may take less than all
    /// send.written(n)?;
    /// server.write_to(&mut socket)?; // the rest, if any, now in the connection's output
    ///
    /// assert_eq!(socket[..2], [0x82, 127]); // FIN + Binary, then a 64-bit length (§5.2)
    /// assert_eq!(socket.len(), 10 + page.len());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn send_vectored<'c, 'd>(
        &'c mut self,
        kind: MessageKind,
        data: &'d [u8],
    ) -> Result<VectoredSend<'c, 'd>, UsageError> {
        let text = match kind {
            MessageKind::Text => Some(crate::utf8::as_str(data).ok_or(UsageError::InvalidUtf8)?),
            MessageKind::Binary => None,
        };
        self.vectored(text, data)
    }

    /// [`send_vectored`](Self::send_vectored) for text you hold as `&str`: already UTF-8, so
    /// it is not validated again (as [`send_text`](Self::send_text) takes it).
    ///
    /// ```
    /// use rfc6455::{Connection, Role};
    /// use rfc6455::connection::Config;
    ///
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// let page = "é".repeat(2000); // kept, say, in a cache
    /// let mut send = server.send_text_vectored(&page)?;
    /// assert!(send.in_place());
    /// let mut socket = Vec::new();
    /// for piece in send.pieces() {
    ///     socket.extend_from_slice(piece); // a vectored write in real use
    /// }
    /// send.written(socket.len())?;
    /// assert_eq!(socket[..4], [0x81, 126, 0x0f, 0xa0]); // FIN + Text, 4000 bytes
    /// # Ok::<(), rfc6455::UsageError>(())
    /// ```
    #[inline]
    pub fn send_text_vectored<'c, 'd>(
        &'c mut self,
        text: &'d str,
    ) -> Result<VectoredSend<'c, 'd>, UsageError> {
        self.vectored(Some(text), text.as_bytes())
    }

    /// Both calls' send: `text` is `data` as text for a Text message, `None` for Binary.
    #[inline(always)]
    fn vectored<'c, 'd>(
        &'c mut self,
        text: Option<&str>,
        data: &'d [u8],
    ) -> Result<VectoredSend<'c, 'd>, UsageError> {
        // A server's payload (a client must mask, which a borrowed payload cannot be), with
        // nothing pending before it (which goes first).
        let in_place = self.goes_out_where_it_lies(data.len())
            && self.role == Role::Server
            && self.out.pending_len() == 0;
        let mut head = [0u8; 16];
        let head_len = if in_place {
            self.check_can_start_message(0)?;
            // A data opcode with RSV bits clear and no key: the unchecked header is the
            // checked one. At most 14 bytes, so its length fits a `u8`.
            let opcode = if text.is_some() { OpCode::Text } else { OpCode::Binary };
            let (word, len) = data_frame_header_word(true, 0, opcode, data.len(), None);
            head = word.to_le_bytes();
            self.timers.on_send();
            len as u8
        } else {
            // Through the public calls, which keep `send_message` inlined in them.
            match text {
                Some(text) => self.send_text(text)?,
                None => self.send_binary(data)?,
            }
            0
        };
        let data = if in_place { data } else { &[] };
        Ok(VectoredSend { conn: self, head, head_len, data })
    }
}

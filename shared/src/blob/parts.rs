use super::ByteStream;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;

/// Cuts a byte stream of unknown length into parts of a fixed size, holding at most one part
/// (plus the unread rest of one incoming chunk) in memory.
pub struct PartReader {
    stream: ByteStream,
    carry: Bytes,
    finished: bool,
    bytes_read: u64,
}

impl PartReader {
    pub fn new(stream: ByteStream) -> Self {
        Self {
            stream,
            carry: Bytes::new(),
            finished: false,
            bytes_read: 0,
        }
    }

    /// Bytes taken from the source so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// The next `size` bytes, fewer only for the last part; `None` once the stream is done.
    pub async fn next_part(&mut self, size: usize) -> std::io::Result<Option<Bytes>> {
        let size = size.max(1);
        if self.carry.len() >= size {
            return Ok(Some(self.carry.split_to(size)));
        }
        let mut part = BytesMut::new();
        if !self.carry.is_empty() {
            part.reserve(size);
            part.extend_from_slice(&self.carry);
            self.carry = Bytes::new();
        }
        while part.len() < size && !self.finished {
            match self.stream.next().await {
                None => self.finished = true,
                Some(chunk) => {
                    let mut chunk = chunk?;
                    self.bytes_read += chunk.len() as u64;
                    // A chunk that is exactly one part needs no copy.
                    if part.is_empty() && chunk.len() == size {
                        return Ok(Some(chunk));
                    }
                    let wanted = size - part.len();
                    if chunk.len() > wanted {
                        self.carry = chunk.split_off(wanted);
                    }
                    if part.capacity() < size {
                        part.reserve(size - part.len());
                    }
                    part.extend_from_slice(&chunk);
                }
            }
        }
        Ok((!part.is_empty()).then(|| part.freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream;

    fn source(chunks: Vec<std::io::Result<Bytes>>) -> ByteStream {
        stream::iter(chunks).boxed()
    }

    async fn sizes(reader: &mut PartReader, size: usize) -> Vec<usize> {
        let mut out = Vec::new();
        while let Some(part) = reader.next_part(size).await.unwrap() {
            out.push(part.len());
        }
        out
    }

    #[tokio::test]
    async fn parts_are_full_except_the_last_whatever_the_chunking() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for chunk in [1, 7, 100, 333, 1000] {
            let chunks = data
                .chunks(chunk)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let mut reader = PartReader::new(source(chunks));
            let mut joined = Vec::new();
            let mut lens = Vec::new();
            while let Some(part) = reader.next_part(300).await.unwrap() {
                lens.push(part.len());
                joined.extend_from_slice(&part);
            }
            assert_eq!(lens, vec![300, 300, 300, 100], "chunk size {chunk}");
            assert_eq!(joined, data);
            assert_eq!(reader.bytes_read(), 1000);
        }
    }

    #[tokio::test]
    async fn an_empty_source_has_no_parts_and_errors_pass_through() {
        assert!(
            sizes(&mut PartReader::new(source(vec![])), 10)
                .await
                .is_empty()
        );
        let mut reader = PartReader::new(source(vec![
            Ok(Bytes::from_static(b"abc")),
            Err(std::io::Error::other("cut")),
        ]));
        assert!(reader.next_part(10).await.is_err());
    }
}

//! A file followed as `tail -F` follows it: the lines appended to a path, as
//! they are completed, through truncation, rotation and absence.
//!
//! A [`Follower`] polls: each [`Follower::poll`] looks at what the path
//! names now (its device and inode, its length) and reads what was appended
//! since. It never waits and never fails; what happened comes out as
//! [`FollowEvent`]s, in order:
//!
//! - a complete line ([`FollowEvent::Line`]); a partial last line is kept
//!   until its newline arrives;
//! - a (re)start from the beginning of a file ([`FollowEvent::Start`]): the
//!   first open, a truncation (the file is shorter than what was read), a
//!   rotation (the path names another file: the old one's remaining bytes
//!   are read first), or the file back after an absence;
//! - the path naming no readable file ([`FollowEvent::Missing`]), retried
//!   with a growing delay ([`Follower::delay`]).
//!
//! [`Follower::next`] is the same on tokio: it sleeps between polls, and is
//! cancel-safe (dropping it loses nothing, since the only await is the
//! sleep). Reads are plain blocking reads of at most a few MiB a poll: meant
//! for local files, which do not block for long.
//!
//! A truncation is seen only as a length shorter than what was read: a file
//! truncated and written past that length between two polls looks appended
//! to, as it does to `tail`.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Bytes read in one read call.
const CHUNK: usize = 64 * 1024;
/// Bytes read in one look, at most (the rest waits for the next).
const PER_POLL: u64 = 4 * 1024 * 1024;
/// A line longer than this is passed on as it is, unfinished, so that a
/// file without newlines cannot take all memory.
const MAX_LINE: usize = 1024 * 1024;

/// Why the path cannot be followed right now (retried, never final).
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The path names no file.
    #[error("{}: no such file (yet); start the writer (`nvidia-smi ... > {}`) or check the path", path.display(), path.display())]
    Missing {
        /// The path followed.
        path: PathBuf,
    },
    /// The path names something that cannot be read as a file.
    #[error("{}: cannot be read: {source}; check that it is a readable file", path.display())]
    Unreadable {
        /// The path followed.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Why reading starts from the beginning of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// The file was opened for the first time.
    Opened,
    /// The file became shorter than what had been read: read again from its start.
    Truncated,
    /// The path now names another file (the old one was renamed or
    /// replaced; its remaining bytes were read first).
    Rotated,
    /// The path names a file again after naming none for a while.
    Reappeared,
}

impl Start {
    /// In words, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Start::Opened => "opened",
            Start::Truncated => "truncated",
            Start::Rotated => "rotated (the path names a new file)",
            Start::Reappeared => "back after being missing",
        }
    }
}

/// What a [`Follower`] saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FollowEvent {
    /// A complete line, without its `\n` or `\r\n` (bytes that are not
    /// UTF-8 replaced by U+FFFD).
    Line(String),
    /// Lines from here on come from the beginning of a file.
    Start {
        /// Why.
        why: Start,
        /// Bytes of an unfinished line left behind in the file read before
        /// (their newline never came); 0 when none.
        cut: usize,
    },
    /// The path names no readable file; it is tried again after
    /// [`Follower::delay`].
    Missing {
        /// Failed tries in a row.
        attempt: u32,
        /// What went wrong and what to do ([`FollowError`]'s message).
        error: String,
    },
}

/// A file open for following.
#[derive(Debug)]
struct Open {
    file: File,
    /// (device, inode) on Unix; elsewhere rotation is not detected.
    id: Option<(u64, u64)>,
    /// Bytes read so far.
    pos: u64,
}

/// Follows the lines appended to a path (see the [module](self) docs).
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    poll: Duration,
    max_backoff: Duration,
    open: Option<Open>,
    /// The file followed last, and how far, while the path names none.
    last: Option<(Option<(u64, u64)>, u64)>,
    partial: Vec<u8>,
    pending: VecDeque<FollowEvent>,
    missing: u32,
    /// Whether [`Self::next`] may look without sleeping first.
    due: bool,
}

impl Follower {
    /// Follows `path` from the beginning of the file it names, polling
    /// every 200 ms and backing off to at most 5 s while it names none.
    pub fn new(path: impl Into<PathBuf>) -> Follower {
        Follower {
            path: path.into(),
            poll: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            open: None,
            last: None,
            partial: Vec::new(),
            pending: VecDeque::new(),
            missing: 0,
            due: true,
        }
    }

    /// Polls every `every` (at least 1 ms).
    pub fn poll_every(mut self, every: Duration) -> Follower {
        self.poll = every.max(Duration::from_millis(1));
        self
    }

    /// Waits at most `most` between tries while the path names no file.
    pub fn max_backoff(mut self, most: Duration) -> Follower {
        self.max_backoff = most;
        self
    }

    /// The path followed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How long to wait before the next poll: the poll interval, doubled for
    /// each failed try in a row while the path names no file, up to the
    /// maximum backoff.
    pub fn delay(&self) -> Duration {
        if self.open.is_some() || self.missing <= 1 {
            return self.poll;
        }
        let grown = self.poll.saturating_mul(1 << (self.missing - 1).min(16));
        grown.min(self.max_backoff.max(self.poll))
    }

    /// One look at the path, without waiting: what it shows, in order
    /// (events that [`Self::next`] has not yet returned come first). Empty
    /// means nothing new; look again after [`Self::delay`].
    pub fn poll(&mut self) -> Vec<FollowEvent> {
        self.step();
        self.pending.drain(..).collect()
    }

    /// The next event, looking every [`Self::delay`] until there is one.
    /// Cancel-safe.
    pub async fn next(&mut self) -> FollowEvent {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return e;
            }
            if self.due {
                self.due = false;
                self.step();
            } else {
                tokio::time::sleep(self.delay()).await;
                self.due = true;
            }
        }
    }

    /// One look at the path, queueing what it shows.
    fn step(&mut self) {
        let Some(mut open) = self.open.take() else {
            self.try_open(None);
            self.read_open();
            return;
        };
        match std::fs::metadata(&self.path) {
            Err(_) => {
                // Gone (renamed or deleted): what was written to it before still counts.
                self.read_to(&mut open, u64::MAX);
                self.last = Some((open.id, open.pos));
                self.try_open(None);
                self.read_open();
            }
            Ok(meta) if open.id.is_some() && id_of(&meta) != open.id => {
                self.read_to(&mut open, u64::MAX);
                let cut = self.cut();
                // Should the new file be gone already, its return is a reappearance.
                self.last = Some((open.id, open.pos));
                self.try_open(Some((Start::Rotated, cut)));
                self.read_open();
            }
            Ok(_) => {
                let len = open.file.metadata().map(|m| m.len()).unwrap_or(open.pos);
                if len < open.pos {
                    let cut = self.cut();
                    if open.file.seek(SeekFrom::Start(0)).is_ok() {
                        open.pos = 0;
                        self.pending.push_back(FollowEvent::Start { why: Start::Truncated, cut });
                    } else {
                        // Cannot seek: open it again from the start.
                        self.try_open(Some((Start::Truncated, cut)));
                        self.read_open();
                        return;
                    }
                }
                self.read_to(&mut open, PER_POLL);
                self.open = Some(open);
            }
        }
    }

    /// Reads the file just opened, if one was.
    fn read_open(&mut self) {
        if let Some(mut open) = self.open.take() {
            self.read_to(&mut open, PER_POLL);
            self.open = Some(open);
        }
    }

    /// Drops the unfinished line, saying how long it was.
    fn cut(&mut self) -> usize {
        let cut = self.partial.len();
        self.partial.clear();
        cut
    }

    /// Opens the path; `start` says why when it is known (a rotation).
    fn try_open(&mut self, start: Option<(Start, usize)>) {
        let opened = File::open(&self.path).and_then(|file| {
            let meta = file.metadata()?;
            if meta.is_dir() {
                return Err(std::io::Error::other("it is a directory"));
            }
            Ok((file, meta))
        });
        let (mut file, meta) = match opened {
            Ok(ok) => ok,
            Err(e) => {
                self.missing = self.missing.saturating_add(1);
                let error = if e.kind() == std::io::ErrorKind::NotFound {
                    FollowError::Missing { path: self.path.clone() }
                } else {
                    FollowError::Unreadable { path: self.path.clone(), source: e }
                };
                self.pending.push_back(FollowEvent::Missing { attempt: self.missing, error: error.to_string() });
                return;
            }
        };
        self.missing = 0;
        let id = id_of(&meta);
        let (why, cut) = match (start, self.last.take()) {
            (Some(s), _) => s,
            // The same file back, no shorter: go on where it was left.
            (None, Some((last_id, pos))) if last_id.is_some() && last_id == id && meta.len() >= pos => {
                if file.seek(SeekFrom::Start(pos)).is_ok() {
                    self.open = Some(Open { file, id, pos });
                    return;
                }
                (Start::Reappeared, self.cut())
            }
            (None, Some(_)) => (Start::Reappeared, self.cut()),
            (None, None) => (Start::Opened, self.cut()),
        };
        self.pending.push_back(FollowEvent::Start { why, cut });
        self.open = Some(Open { file, id, pos: 0 });
    }

    /// Reads what `open` holds past its position, at most about `limit`
    /// bytes, queueing the complete lines.
    fn read_to(&mut self, open: &mut Open, limit: u64) {
        let mut read = 0u64;
        let mut buf = vec![0; CHUNK];
        while read < limit {
            match open.file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    read += n as u64;
                    open.pos += n as u64;
                    self.partial.extend_from_slice(&buf[..n]);
                    self.split_lines();
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // A read error: try again next poll.
                Err(_) => break,
            }
        }
    }

    /// Moves the complete lines of `partial` to the queue.
    fn split_lines(&mut self) {
        let mut start = 0;
        while let Some(i) = self.partial[start..].iter().position(|&b| b == b'\n') {
            let line = &self.partial[start..start + i];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            self.pending.push_back(FollowEvent::Line(String::from_utf8_lossy(line).into_owned()));
            start += i + 1;
        }
        self.partial.drain(..start);
        if self.partial.len() > MAX_LINE {
            let line = String::from_utf8_lossy(&self.partial).into_owned();
            self.partial.clear();
            self.pending.push_back(FollowEvent::Line(line));
        }
    }
}

/// A file's identity: (device, inode).
#[cfg(unix)]
fn id_of(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

/// A file's identity: not known here, so rotation is not detected.
#[cfg(not(unix))]
fn id_of(_meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn line(s: &str) -> FollowEvent {
        FollowEvent::Line(s.into())
    }

    fn start(why: Start, cut: usize) -> FollowEvent {
        FollowEvent::Start { why, cut }
    }

    /// One look.
    fn drain(f: &mut Follower) -> Vec<FollowEvent> {
        f.poll()
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn complete_lines_only_and_a_partial_line_waits_for_its_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("smi.csv");
        append(&p, "a\nb\r\nc");
        let mut f = Follower::new(&p);
        assert_eq!(drain(&mut f), [start(Start::Opened, 0), line("a"), line("b")]);
        assert_eq!(drain(&mut f), []);
        append(&p, "d");
        assert_eq!(drain(&mut f), []);
        append(&p, "\n\ne\n");
        assert_eq!(drain(&mut f), [line("cd"), line(""), line("e")]);
    }

    #[test]
    fn a_file_that_does_not_exist_yet_is_waited_for_with_backoff() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("smi.csv");
        let mut f = Follower::new(&p).poll_every(Duration::from_millis(10)).max_backoff(Duration::from_millis(35));
        let [FollowEvent::Missing { attempt: 1, error }] = &f.poll()[..] else { panic!("expected a missing file") };
        assert!(error.contains("smi.csv: no such file (yet)"), "{error}");
        assert_eq!(f.delay(), Duration::from_millis(10));
        assert!(matches!(&f.poll()[..], [FollowEvent::Missing { attempt: 2, .. }]));
        assert_eq!(f.delay(), Duration::from_millis(20));
        f.poll();
        f.poll();
        assert_eq!(f.delay(), Duration::from_millis(35), "capped");
        append(&p, "x\n");
        assert_eq!(drain(&mut f), [start(Start::Opened, 0), line("x")]);
        assert_eq!(f.delay(), Duration::from_millis(10));
    }

    #[test]
    fn truncation_starts_again_from_the_beginning_and_drops_the_unfinished_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("smi.csv");
        append(&p, "one\ntwo\nthr");
        let mut f = Follower::new(&p);
        assert_eq!(drain(&mut f).len(), 3);
        std::fs::File::create(&p).unwrap(); // truncates
        append(&p, "new\n");
        assert_eq!(drain(&mut f), [start(Start::Truncated, 3), line("new")]);
    }

    #[cfg(unix)]
    #[test]
    fn rotation_reads_the_old_files_rest_then_the_new_file_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("smi.csv");
        append(&p, "1\n");
        let mut f = Follower::new(&p);
        assert_eq!(drain(&mut f), [start(Start::Opened, 0), line("1")]);
        append(&p, "2\n3");
        std::fs::rename(&p, dir.path().join("smi.csv.1")).unwrap();
        append(&p, "4\n");
        assert_eq!(drain(&mut f), [line("2"), start(Start::Rotated, 1), line("4")]);
    }

    #[test]
    fn a_file_missing_for_a_while_is_retried_and_read_from_its_start_when_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("smi.csv");
        append(&p, "1\n");
        let mut f = Follower::new(&p);
        assert_eq!(drain(&mut f).len(), 2);
        append(&p, "2\n");
        std::fs::rename(&p, dir.path().join("old")).unwrap();
        let got = drain(&mut f);
        assert_eq!(got[0], line("2"));
        assert!(matches!(got[1], FollowEvent::Missing { attempt: 1, .. }), "{got:?}");
        assert!(matches!(&f.poll()[..], [FollowEvent::Missing { attempt: 2, .. }]));
        append(&p, "3\n");
        assert_eq!(drain(&mut f), [start(Start::Reappeared, 0), line("3")]);
    }

    #[cfg(unix)]
    #[test]
    fn the_same_file_moved_away_and_back_goes_on_where_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("smi.csv");
        let away = dir.path().join("away");
        append(&p, "1\n");
        let mut f = Follower::new(&p);
        assert_eq!(drain(&mut f).len(), 2);
        std::fs::rename(&p, &away).unwrap();
        assert!(matches!(&f.poll()[..], [FollowEvent::Missing { .. }]));
        append(&away, "2\n");
        std::fs::rename(&away, &p).unwrap();
        assert_eq!(drain(&mut f), [line("2")]);
    }

    #[test]
    fn a_directory_is_unreadable_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = Follower::new(dir.path());
        let [FollowEvent::Missing { error, .. }] = &f.poll()[..] else { panic!("expected a retry") };
        assert!(error.contains("cannot be read") && error.contains("directory"), "{error}");
    }

    #[tokio::test]
    async fn next_waits_for_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("smi.csv");
        let mut f = Follower::new(&p).poll_every(Duration::from_millis(5));
        let q = p.clone();
        let writer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            append(&q, "hello\n");
        });
        let mut got = Vec::new();
        while got.last() != Some(&line("hello")) {
            let e = tokio::time::timeout(Duration::from_secs(10), f.next()).await.expect("a line within 10 s");
            got.push(e);
        }
        writer.await.unwrap();
        assert!(got.contains(&start(Start::Opened, 0)));
    }
}

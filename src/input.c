/*
 * Line sources: a log file, plain or gzip-compressed (told by the magic
 * bytes 1f 8b, never by the name), or standard input, optionally followed
 * like `tail -F`.
 *
 * Built for throughput: data is read(2) (or inflated) into one large
 * block, lines are found with memchr and handed out as pointers into the
 * block.  Before the next read only the unfinished tail of the block is
 * moved to its front, so a line is copied at most once, and only when it
 * straddles two reads.  Memory is bounded by the block plus max_line: a
 * longer line is delivered once, cut to max_line bytes, and the rest of it
 * is skipped without being kept.
 *
 * Follow mode keeps the descriptor of the file it reads.  At the end of
 * the data it looks at the path: a different inode there means the file
 * was rotated (the old one is read to its end first, then the new one
 * from its start); a size below our offset means it was truncated (start
 * again at 0); no file there means it was moved away and may come back,
 * so we keep waiting.  Holding the old descriptor also keeps its inode
 * number from being reused by the next file, which would hide a rotation.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "anomaly.h"

#define INPUT_BLOCK    (1024 * 1024)
/* A user-given max_line above this is clamped: the block is sized from it. */
#define MAX_LINE_LIMIT ((size_t)1 << 30)
#define POLL_STEP_MS   50

enum fill_result {
	FILL_DATA,  /* more bytes in the block */
	FILL_EOF,   /* end of input */
	FILL_AGAIN, /* follow: nothing new yet */
	FILL_FLUSH, /* follow: switched files; the pending tail is a line */
	FILL_ERR,   /* in->errmsg says why */
};

enum gz_state {
	GZ_RUN,        /* inside a member */
	GZ_MEMBER_END, /* a member ended: another, padding or garbage next */
	GZ_DONE,
};

struct input {
	char *name;     /* for messages */
	char *path;     /* NULL for stdin */
	int fd;         /* -1: follow mode, no file there (yet) */
	int own_fd;
	int follow;     /* following a path: rotation, truncation, absence */
	int sniffed;    /* gzip magic checked */
	int at_eof;
	size_t max_line;

	char *blk;      /* [pos, end) not yet handed out */
	size_t cap, pos, end;
	int discard;    /* inside a too-long line that was already delivered */

	int gz;
	z_stream zs;
	unsigned char *zin; /* compressed bytes */
	size_t zin_cap;
	int zstate;
	int zraw_eof;
	int zerr;       /* inflate failed after producing output: report next */

	dev_t dev;      /* identity of the followed file we hold */
	ino_t ino;
	uint64_t off;   /* bytes read from the current descriptor */

	uint64_t lineno;
	uint64_t raw_bytes;
	int64_t size_hint;
	int truncated;
	int status;     /* 0 while running, then INPUT_EOF or INPUT_ERR */
	char errmsg[512];
};

static void set_err(struct input *, const char *, ...) AD_PRINTF(2, 3);

static void
set_err(struct input *in, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(in->errmsg, sizeof(in->errmsg), "%s: ", in->name);
	if (n < 0 || (size_t)n >= sizeof(in->errmsg))
		return;
	va_start(ap, fmt);
	vsnprintf(in->errmsg + n, sizeof(in->errmsg) - (size_t)n, fmt, ap);
	va_end(ap);
}

static void
copy_err(const struct input *in, char *err, size_t errlen)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", in->errmsg);
}

/* -1 with errmsg set on a read error; EINTR and a non-blocking stdin
 * are dealt with here. */
static ssize_t
read_some(struct input *in, void *p, size_t n)
{
	struct pollfd pfd;
	ssize_t r;

	for (;;) {
		r = read(in->fd, p, n);
		if (r >= 0)
			break;
		if (errno == EINTR)
			continue;
		if ((errno == EAGAIN || errno == EWOULDBLOCK) && !in->follow) {
			/* Someone left our stdin non-blocking: wait. */
			pfd.fd = in->fd;
			pfd.events = POLLIN;
			pfd.revents = 0;
			(void)poll(&pfd, 1, -1);
			continue;
		}
		set_err(in, "read: %s", strerror(errno));
		return -1;
	}
	in->raw_bytes += (uint64_t)r;
	in->off += (uint64_t)r;
	return r;
}

/* ---- gzip */

static int
gz_start(struct input *in)
{
	char *t;

	/*
	 * The bytes already read are compressed: the block becomes the
	 * inflate input and a fresh block takes the output.  No copy.
	 */
	memset(&in->zs, 0, sizeof(in->zs));
	if (inflateInit2(&in->zs, 16 + MAX_WBITS) != Z_OK) {
		set_err(in, "cannot initialise zlib");
		return -1;
	}
	in->gz = 1;
	t = in->blk;
	in->blk = xmalloc(in->cap);
	in->zin = (unsigned char *)t;
	in->zin_cap = in->cap;
	in->zs.next_in = in->zin;
	in->zs.avail_in = (uInt)in->end;
	in->pos = in->end = 0;
	in->zstate = GZ_RUN;
	return 0;
}

static enum fill_result
gz_fail(struct input *in, int ret)
{
	unsigned long long lines = (unsigned long long)in->lineno;

	switch (ret) {
	case Z_BUF_ERROR:
		in->truncated = 1;
		set_err(in, "gzip file is truncated (ends before the gzip "
		    "trailer); %llu complete lines read", lines);
		break;
	case Z_MEM_ERROR:
		set_err(in, "zlib: out of memory after %llu lines", lines);
		break;
	default:
		in->truncated = 1;
		set_err(in, "gzip data is corrupt (%s); %llu complete lines "
		    "read before the damage",
		    in->zs.msg != NULL ? in->zs.msg : "bad data", lines);
		break;
	}
	return FILL_ERR;
}

static enum fill_result
fill_gz(struct input *in)
{
	z_stream *zs = &in->zs;
	size_t room, got;
	ssize_t n;
	int ret;

	for (;;) {
		if (in->zerr != 0)
			return gz_fail(in, in->zerr);
		if (in->zstate == GZ_DONE)
			return FILL_EOF;
		if (zs->avail_in == 0 && !in->zraw_eof) {
			n = read_some(in, in->zin, in->zin_cap);
			if (n < 0)
				return FILL_ERR;
			if (n == 0)
				in->zraw_eof = 1;
			zs->next_in = in->zin;
			zs->avail_in = (uInt)n;
		}
		if (in->zstate == GZ_MEMBER_END) {
			/*
			 * As zcat: members may follow one another, and zero
			 * bytes after the last one (tar-style padding) are
			 * fine.  Anything else is garbage we do not read.
			 */
			while (zs->avail_in > 0 && zs->next_in[0] == 0) {
				zs->next_in++;
				zs->avail_in--;
			}
			if (zs->avail_in == 0) {
				if (!in->zraw_eof)
					continue;
				in->zstate = GZ_DONE;
				return FILL_EOF;
			}
			if (zs->next_in[0] != 0x1f) {
				log_warnx("%s: trailing garbage after gzip data "
				    "ignored", in->name);
				in->zstate = GZ_DONE;
				return FILL_EOF;
			}
			if (inflateReset(zs) != Z_OK)
				return gz_fail(in, Z_STREAM_ERROR);
			in->zstate = GZ_RUN;
		}
		room = in->cap - in->end;
		zs->next_out = (unsigned char *)in->blk + in->end;
		zs->avail_out = (uInt)room;
		ret = inflate(zs, Z_NO_FLUSH);
		got = room - zs->avail_out;
		in->end += got;
		switch (ret) {
		case Z_STREAM_END:
		case Z_OK:
			if (ret == Z_STREAM_END)
				in->zstate = GZ_MEMBER_END;
			if (got > 0)
				return FILL_DATA;
			continue;
		case Z_BUF_ERROR:
			/* No progress: more input needed, or there is none. */
			if (got > 0)
				return FILL_DATA;
			if (zs->avail_in == 0 && !in->zraw_eof)
				continue;
			if (zs->avail_in == 0)
				return gz_fail(in, Z_BUF_ERROR);
			return gz_fail(in, Z_DATA_ERROR);
		default:
			/* Lines inflated before the damage still go out. */
			in->zerr = ret;
			if (got > 0)
				return FILL_DATA;
			return gz_fail(in, ret);
		}
	}
}

/* First read of a stream that is not followed: gzip or not? */
static enum fill_result
sniff(struct input *in)
{
	ssize_t n;

	in->sniffed = 1;
	while (in->end < 2) {
		n = read_some(in, in->blk + in->end, in->cap - in->end);
		if (n < 0)
			return FILL_ERR;
		if (n == 0)
			break;
		in->end += (size_t)n;
	}
	if (in->end >= 2 && (unsigned char)in->blk[0] == 0x1f &&
	    (unsigned char)in->blk[1] == 0x8b) {
		if (gz_start(in) == -1)
			return FILL_ERR;
		return fill_gz(in);
	}
	return in->end > 0 ? FILL_DATA : FILL_EOF;
}

/* ---- follow mode */

/* Is the file behind fd gzip?  Checked with pread: the offset stays. */
static int
fd_is_gzip(int fd)
{
	unsigned char m[2];

	return pread(fd, m, 2, 0) == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

/* Take fd as the followed file; -1 (fd closed) if it cannot be. */
static int
tail_attach(struct input *in, int fd, const struct stat *st)
{
	if (!S_ISREG(st->st_mode)) {
		set_err(in, "not a regular file, cannot follow it");
		close(fd);
		return -1;
	}
	if (fd_is_gzip(fd)) {
		set_err(in, "gzip-compressed file: cannot follow it (read it "
		    "without follow mode)");
		close(fd);
		return -1;
	}
	in->fd = fd;
	in->dev = st->st_dev;
	in->ino = st->st_ino;
	in->off = 0;
	return 0;
}

/* Open the path anew.  1: opened; 0: not there; -1: error. */
static int
tail_open(struct input *in)
{
	struct stat st;
	int fd;

	fd = open(in->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		set_err(in, "%s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		set_err(in, "fstat: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return tail_attach(in, fd, &st) == -1 ? -1 : 1;
}

/*
 * The followed file now starts over: a pending unfinished line is
 * delivered as it is (nothing will ever complete it), and line numbers
 * count in the new file.
 */
static enum fill_result
tail_restart(struct input *in)
{
	if (in->discard) {
		in->discard = 0;
		in->pos = in->end;
	}
	if (in->pos < in->end)
		return FILL_FLUSH;
	in->lineno = 0;
	return FILL_DATA;
}

static enum fill_result
fill_tail(struct input *in)
{
	struct stat st;
	ssize_t n;
	int r;

	for (;;) {
		if (in->fd == -1) {
			r = tail_open(in);
			if (r == 0)
				return FILL_AGAIN;
			if (r == -1)
				return FILL_ERR;
			if (tail_restart(in) == FILL_FLUSH)
				return FILL_FLUSH;
		}
		n = read_some(in, in->blk + in->end, in->cap - in->end);
		if (n < 0)
			return FILL_ERR;
		if (n > 0) {
			in->end += (size_t)n;
			return FILL_DATA;
		}
		/* At the end of what the file holds now. */
		if (fstat(in->fd, &st) == 0 && (uint64_t)st.st_size < in->off) {
			if (lseek(in->fd, 0, SEEK_SET) == -1) {
				set_err(in, "lseek: %s", strerror(errno));
				return FILL_ERR;
			}
			in->off = 0;
			if (tail_restart(in) == FILL_FLUSH)
				return FILL_FLUSH;
			continue;
		}
		if (stat(in->path, &st) == -1)
			return FILL_AGAIN; /* moved away: it may come back */
		if (st.st_dev == in->dev && st.st_ino == in->ino)
			return FILL_AGAIN;
		/*
		 * Rotated.  Read the old file once more: a writer may have
		 * appended between our last read and the rename.
		 */
		n = read_some(in, in->blk + in->end, in->cap - in->end);
		if (n < 0)
			return FILL_ERR;
		if (n > 0) {
			in->end += (size_t)n;
			return FILL_DATA;
		}
		close(in->fd);
		in->fd = -1;
	}
}

/*
 * Did the followed path change since we last read?  Cheap: one fstat
 * and one stat.
 */
static int
tail_changed(const struct input *in)
{
	struct stat st;

	if (in->fd != -1) {
		if (fstat(in->fd, &st) == 0 && (uint64_t)st.st_size != in->off)
			return 1;
	}
	if (stat(in->path, &st) == -1)
		return 0;
	return in->fd == -1 || st.st_dev != in->dev || st.st_ino != in->ino;
}

/* ---- the reader */

static enum fill_result
fill(struct input *in)
{
	ssize_t n;

	if (in->at_eof)
		return FILL_EOF;
	/* Keep only the unfinished tail (at most max_line + 1 bytes). */
	if (in->pos > 0) {
		size_t rest = in->end - in->pos;

		if (rest > 0)
			memmove(in->blk, in->blk + in->pos, rest);
		in->pos = 0;
		in->end = rest;
	}
	if (in->gz)
		return fill_gz(in);
	if (in->follow)
		return fill_tail(in);
	if (!in->sniffed)
		return sniff(in);
	n = read_some(in, in->blk + in->end, in->cap - in->end);
	if (n < 0)
		return FILL_ERR;
	if (n == 0)
		return FILL_EOF;
	in->end += (size_t)n;
	return FILL_DATA;
}

static void
deliver(struct input *in, struct input_line *out, const char *s, size_t n)
{
	if (n > 0 && s[n - 1] == '\r')
		n--;
	out->too_long = 0;
	if (n > in->max_line) {
		n = in->max_line;
		out->too_long = 1;
	}
	out->p = s;
	out->n = n;
	out->lineno = ++in->lineno;
}

int
input_next(struct input *in, struct input_line *out, char *err,
    size_t errlen)
{
	const char *s, *nl;
	size_t avail, n;

	if (in->status == INPUT_ERR)
		copy_err(in, err, errlen);
	if (in->status != 0)
		return in->status;
	for (;;) {
		if (in->pos < in->end) {
			s = in->blk + in->pos;
			avail = in->end - in->pos;
			nl = memchr(s, '\n', avail);
			if (nl != NULL) {
				n = (size_t)(nl - s);
				in->pos += n + 1;
				if (in->discard) {
					in->discard = 0;
					continue;
				}
				deliver(in, out, s, n);
				return INPUT_LINE;
			}
			if (in->discard) {
				in->pos = in->end;
			} else if (avail > in->max_line + 1) {
				/*
				 * Too long whatever follows (even a \r):
				 * deliver its head now, skip the rest.
				 */
				in->pos = in->end;
				in->discard = 1;
				deliver(in, out, s, avail);
				return INPUT_LINE;
			}
		}
		switch (fill(in)) {
		case FILL_DATA:
			break;
		case FILL_AGAIN:
			return INPUT_AGAIN;
		case FILL_FLUSH:
			deliver(in, out, in->blk + in->pos, in->end - in->pos);
			in->pos = in->end;
			in->lineno = 0;
			return INPUT_LINE;
		case FILL_EOF:
			in->at_eof = 1;
			if (in->pos < in->end && !in->discard) {
				deliver(in, out, in->blk + in->pos,
				    in->end - in->pos);
				in->pos = in->end;
				return INPUT_LINE;
			}
			in->status = INPUT_EOF;
			return INPUT_EOF;
		case FILL_ERR:
			in->status = INPUT_ERR;
			copy_err(in, err, errlen);
			return INPUT_ERR;
		}
	}
}

struct input *
input_open(const char *path, const struct input_opts *opts, char *err,
    size_t errlen)
{
	struct input *in;
	struct stat st;
	int follow = opts != NULL && opts->follow;
	int fd;

	in = xcalloc(1, sizeof(*in));
	in->fd = -1;
	in->size_hint = -1;
	in->max_line = opts != NULL ? opts->max_line : 0;
	if (in->max_line == 0)
		in->max_line = INPUT_MAX_LINE_DEFAULT;
	if (in->max_line > MAX_LINE_LIMIT)
		in->max_line = MAX_LINE_LIMIT;

	if (strcmp(path, "-") == 0) {
		/* A pipe has no end to follow: read it to its end. */
		in->name = xstrdup("(stdin)");
		in->fd = STDIN_FILENO;
		if (fstat(in->fd, &st) == 0 && S_ISREG(st.st_mode))
			in->size_hint = (int64_t)st.st_size;
		goto ready;
	}

	in->name = xstrdup(path);
	in->path = xstrdup(path);
	in->own_fd = 1;
	fd = open(path, O_RDONLY | O_CLOEXEC | (follow ? O_NONBLOCK : 0));
	if (fd == -1) {
		if (follow && errno == ENOENT) {
			/* tail -F: it will come. */
			in->follow = 1;
			in->sniffed = 1;
			goto ready;
		}
		set_err(in, "%s", strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) == -1) {
		set_err(in, "fstat: %s", strerror(errno));
		close(fd);
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		set_err(in, "is a directory");
		close(fd);
		goto fail;
	}
	if (S_ISREG(st.st_mode))
		in->size_hint = (int64_t)st.st_size;
	if (follow && S_ISREG(st.st_mode)) {
		in->follow = 1;
		in->sniffed = 1;
		if (tail_attach(in, fd, &st) == -1)
			goto fail;
		if (opts->follow_from_end) {
			if (lseek(fd, st.st_size, SEEK_SET) == -1) {
				set_err(in, "lseek: %s", strerror(errno));
				goto fail;
			}
			in->off = (uint64_t)st.st_size;
		}
	} else {
		/* A FIFO or device: no rotation to watch, read to its end. */
		if (follow)
			(void)fcntl(fd, F_SETFL,
			    fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		in->fd = fd;
	}

ready:
	in->cap = INPUT_BLOCK + in->max_line + 2;
	in->blk = xmalloc(in->cap);
	return in;

fail:
	copy_err(in, err, errlen);
	input_free(in);
	return NULL;
}

void
input_wait(struct input *in, int timeout_ms)
{
	struct timespec ts;
	int64_t deadline, now, step;

	if (in == NULL || !in->follow || in->status != 0 || timeout_ms <= 0)
		return;
	deadline = clock_mono_ns() + (int64_t)timeout_ms * 1000000;
	for (;;) {
		if (tail_changed(in))
			return;
		now = clock_mono_ns();
		if (now >= deadline)
			return;
		step = deadline - now;
		if (step > (int64_t)POLL_STEP_MS * 1000000)
			step = (int64_t)POLL_STEP_MS * 1000000;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)step;
		nanosleep(&ts, NULL);
	}
}

const char *
input_name(const struct input *in)
{
	return in->name;
}

uint64_t
input_bytes_read(const struct input *in)
{
	return in->raw_bytes;
}

int64_t
input_size_hint(const struct input *in)
{
	return in->size_hint;
}

int
input_truncated(const struct input *in)
{
	return in->truncated;
}

void
input_free(struct input *in)
{
	if (in == NULL)
		return;
	if (in->own_fd && in->fd != -1)
		close(in->fd);
	if (in->gz)
		inflateEnd(&in->zs);
	free(in->zin);
	free(in->blk);
	free(in->name);
	free(in->path);
	free(in);
}

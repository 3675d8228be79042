/*
 * archive_file.c
 *	  Temporary file, fsync, rename, fsync the directory.
 */
#include "archive_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "seterr.h"

bool
af_write_all(int fd, const void *data, size_t len, const char *path,
			 char *err, size_t errlen)
{
	const char *p = data;

	while (len > 0)
	{
		ssize_t		n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
		{
			seterr(err, errlen, "could not write \"%s\": %s", path, strerror(errno));
			return false;
		}
		p += n;
		len -= (size_t) n;
	}
	return true;
}

bool
af_write_durably(const char *path, int flags, const void *data, size_t len,
				 char *err, size_t errlen)
{
	int			fd = open(path, O_WRONLY | O_CLOEXEC | flags, 0644);
	bool		ok;

	if (fd < 0)
	{
		seterr(err, errlen, "could not open \"%s\": %s", path, strerror(errno));
		return false;
	}
	ok = af_write_all(fd, data, len, path, err, errlen);
	if (ok && fsync(fd) != 0)
	{
		seterr(err, errlen, "could not fsync \"%s\": %s", path, strerror(errno));
		ok = false;
	}
	if (close(fd) != 0 && ok)
	{
		seterr(err, errlen, "could not close \"%s\": %s", path, strerror(errno));
		ok = false;
	}
	return ok;
}

bool
af_fsync_dir(const char *path, char *err, size_t errlen)
{
	int			fd = open(path, O_RDONLY | O_DIRECTORY);

	if (fd < 0 || fsync(fd) != 0)
	{
		seterr(err, errlen, "could not fsync directory \"%s\": %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	close(fd);
	return true;
}

bool
af_mkdirs(const char *path, char *err, size_t errlen)
{
	char	   *p = strdup(path);
	struct stat st;
	bool		ok = true;

	if (p == NULL)
	{
		seterr(err, errlen, "out of memory");
		return false;
	}
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
	{
		free(p);
		return true;
	}
	/* create each missing component; fsync its parent so the entry lasts */
	for (char *s = p + 1; ok; s++)
	{
		bool		last = *s == '\0';

		if (*s != '/' && !last)
			continue;
		*s = '\0';
		if (mkdir(p, 0755) == 0)
		{
			char	   *slash = strrchr(p, '/');

			if (slash != NULL && slash != p)
			{
				*slash = '\0';
				ok = af_fsync_dir(p, err, errlen);
				*slash = '/';
			}
		}
		else if (errno != EEXIST)
		{
			seterr(err, errlen, "could not create directory \"%s\": %s", p, strerror(errno));
			ok = false;
		}
		if (last)
			break;
		*s = '/';
	}
	free(p);
	return ok;
}

bool
af_open(af_file *f, const char *tmp_path, bool gzip, const char *header,
		size_t headerlen, char *err, size_t errlen)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	ebuf_init(&f->buf);
	ebuf_init(&f->zbuf);
	f->tmp_path = strdup(tmp_path);
	f->gzip = gzip;
	f->crc = (uint32_t) crc32(0L, Z_NULL, 0);
	if (f->tmp_path == NULL)
	{
		seterr(err, errlen, "out of memory");
		af_free(f);
		return false;
	}
	f->fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (f->fd < 0)
	{
		seterr(err, errlen, "could not create \"%s\": %s", tmp_path, strerror(errno));
		af_free(f);
		return false;
	}
	if (gzip)
	{
		/* windowBits 15 + 16: a gzip wrapper; level 1 keeps up with the data */
		if (deflateInit2(&f->z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		{
			seterr(err, errlen, "could not start gzip compression");
			af_discard(f);
			return false;
		}
		f->z_open = true;
	}
	return ebuf_append(&f->buf, header, headerlen);
}

/* store writes bytes as they are stored on disk, keeping the checksum */
static bool
store(af_file *f, const void *data, size_t len, char *err, size_t errlen)
{
	f->crc = (uint32_t) crc32(f->crc, data, (uInt) len);
	f->bytes += len;
	return af_write_all(f->fd, data, len, f->tmp_path, err, errlen);
}

/* deflate_to_disk compresses buf's contents (with flush mode) and stores them */
static bool
deflate_to_disk(af_file *f, int flush, char *err, size_t errlen)
{
	int			rc;

	f->z.next_in = (Bytef *) f->buf.data;
	f->z.avail_in = (uInt) f->buf.len;
	do
	{
		if (!ebuf_reserve(&f->zbuf, 256 * 1024))
		{
			seterr(err, errlen, "out of memory");
			return false;
		}
		f->z.next_out = (Bytef *) f->zbuf.data;
		f->z.avail_out = (uInt) f->zbuf.cap;
		rc = deflate(&f->z, flush);
		if (rc == Z_STREAM_ERROR)
		{
			seterr(err, errlen, "gzip compression failed");
			return false;
		}
		if (!store(f, f->zbuf.data, f->zbuf.cap - f->z.avail_out, err, errlen))
			return false;
	} while (f->z.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
	return true;
}

bool
af_flush(af_file *f, bool force, char *err, size_t errlen)
{
	bool		ok;

	if (f->buf.len == 0 || (!force && f->buf.len < AF_BUFFER))
		return true;
	ok = f->gzip ? deflate_to_disk(f, Z_NO_FLUSH, err, errlen) :
		store(f, f->buf.data, f->buf.len, err, errlen);
	ebuf_reset(&f->buf);
	return ok;
}

bool
af_finish(af_file *f, char *err, size_t errlen)
{
	if (!af_flush(f, true, err, errlen))
		return false;
	if (f->gzip && !deflate_to_disk(f, Z_FINISH, err, errlen))
		return false;
	if (fsync(f->fd) != 0)
	{
		seterr(err, errlen, "could not fsync \"%s\": %s", f->tmp_path, strerror(errno));
		return false;
	}
	if (close(f->fd) != 0)
	{
		f->fd = -1;
		seterr(err, errlen, "could not close \"%s\": %s", f->tmp_path, strerror(errno));
		return false;
	}
	f->fd = -1;
	return true;
}

void
af_free(af_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (f->z_open)
		deflateEnd(&f->z);
	f->z_open = false;
	ebuf_free(&f->buf);
	ebuf_free(&f->zbuf);
	free(f->tmp_path);
	f->tmp_path = NULL;
}

void
af_discard(af_file *f)
{
	if (f->tmp_path != NULL)
		(void) unlink(f->tmp_path);
	af_free(f);
}

bool
af_publish(const char *tmp_path, const char *final_path, char *err, size_t errlen)
{
	char	   *dir = strdup(final_path);
	char	   *slash;
	bool		ok;

	if (dir == NULL)
	{
		seterr(err, errlen, "out of memory");
		return false;
	}
	slash = strrchr(dir, '/');
	if (slash != NULL)
		*slash = '\0';
	ok = af_mkdirs(dir, err, errlen);
	if (ok && rename(tmp_path, final_path) != 0)
	{
		seterr(err, errlen, "could not rename \"%s\" to \"%s\": %s",
			   tmp_path, final_path, strerror(errno));
		ok = false;
	}
	ok = ok && af_fsync_dir(dir, err, errlen);
	free(dir);
	return ok;
}

bool
af_clear_dir(const char *path, char *err, size_t errlen)
{
	DIR		   *d = opendir(path);
	struct dirent *e;
	char		file[4096];

	if (d == NULL)
	{
		if (errno == ENOENT)
			return true;
		seterr(err, errlen, "could not open directory \"%s\": %s", path, strerror(errno));
		return false;
	}
	while ((e = readdir(d)) != NULL)
	{
		if (e->d_name[0] == '.' && (e->d_name[1] == '\0' ||
									(e->d_name[1] == '.' && e->d_name[2] == '\0')))
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		if (unlink(file) != 0 && errno != EISDIR)
		{
			seterr(err, errlen, "could not remove \"%s\": %s", file, strerror(errno));
			closedir(d);
			return false;
		}
	}
	closedir(d);
	return true;
}

bool
af_read_file(const char *path, af_chunk_fn raw, af_chunk_fn data, void *arg,
			 char *err, size_t errlen)
{
	int			fd = open(path, O_RDONLY);
	bool		gz = strlen(path) > 3 && strcmp(path + strlen(path) - 3, ".gz") == 0;
	static unsigned char in[1 << 18],
				out[1 << 18];
	z_stream	z;
	ssize_t		n;
	int			zrc = Z_OK;
	bool		ok = true;

	if (fd < 0)
	{
		seterr(err, errlen, "%s", strerror(errno));
		return false;
	}
	memset(&z, 0, sizeof(z));
	if (gz && inflateInit2(&z, 15 + 32) != Z_OK)
	{
		close(fd);
		seterr(err, errlen, "could not start gzip decompression");
		return false;
	}
	while (ok && (n = read(fd, in, sizeof(in))) > 0)
	{
		if (raw && !raw(in, (size_t) n, arg))
			ok = false;
		else if (!gz)
			ok = !data || data(in, (size_t) n, arg);
		else
		{
			z.next_in = in;
			z.avail_in = (uInt) n;
			while (ok && z.avail_in > 0 && zrc != Z_STREAM_END)
			{
				z.next_out = out;
				z.avail_out = sizeof(out);
				zrc = inflate(&z, Z_NO_FLUSH);
				if (zrc != Z_OK && zrc != Z_STREAM_END && zrc != Z_BUF_ERROR)
				{
					seterr(err, errlen, "not a valid gzip stream");
					ok = false;
				}
				else if (data && !data(out, sizeof(out) - z.avail_out, arg))
					ok = false;
			}
		}
	}
	if (ok && n < 0)
	{
		seterr(err, errlen, "%s", strerror(errno));
		ok = false;
	}
	if (ok && gz && zrc != Z_STREAM_END)
	{
		seterr(err, errlen, "not a complete gzip stream");
		ok = false;
	}
	if (gz)
		inflateEnd(&z);
	close(fd);
	return ok;
}

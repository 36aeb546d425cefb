/* fileio.h - whole reads and writes: small files (token files) read whole, buffers
 * written out completely. */
#ifndef AWSR_FILEIO_H
#define AWSR_FILEIO_H

#include <stddef.h>

/* Reads the file whole into a malloc'd NUL-terminated buffer of at most cap bytes.
 * 0, or -1 with errno (EFBIG when the file holds more than cap bytes). */
int awsr_read_small_file(const char *path, size_t cap, char **out, size_t *len);

/* Reads into buf until n bytes, the end of the file or an error (EINTR retried).
 * Returns how many bytes it read. */
size_t awsr_read_upto(int fd, char *buf, size_t n);

/* Writes s[0..n) completely, retrying on EINTR and short writes. 0, or -1 with errno
 * (EIO when write made no progress). */
int awsr_write_all(int fd, const void *s, size_t n);

#endif

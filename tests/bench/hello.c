/* hello.c - a program that does nothing, linked (by rules.mk) against nothing, against
 * libcrypto, or against libcurl: what merely loading a dependency costs at every start,
 * the floor under the launcher's cache-hit time. */
int main(void)
{
    return 0;
}

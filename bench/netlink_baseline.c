/* placeholder, written with bench/build */
int main(void) { return 0; }

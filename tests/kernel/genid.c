/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Print the kernel's nf_tables ruleset generation (NFTA_GEN_ID) of this
 * network namespace: what features.sh compares before and after a probe. */
#include "nft.h"

int main(void) {
        _cleanup_(pst_nft_closep) struct pst_nft *nft = NULL;
        uint32_t gen;
        int r;

        r = pst_nft_open(&nft);
        if (r >= 0)
                r = pst_nft_genid(nft, &gen);
        if (r < 0) {
                fprintf(stderr, "genid: %s\n", strerror(-r));
                return 1;
        }
        printf("%u\n", gen);
        return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A rule's `rpc` option and the catalog of RPC interfaces (see rpc.h). */
#include "dcerpc.h"
#include "rpc.h"

/*
 * The interfaces whose ports Exchange and Active Directory clients look up
 * on the endpoint mapper.  UUIDs as the protocol documents give them.
 */
const struct pst_rpc_interface pst_rpc_interfaces[] = {
        { "emsmdb", "a4f1db00-ca47-1067-b31f-00dd010662da", "Exchange EMSMDB (Outlook MAPI over RPC)",
          "[MS-OXCRPC] 1.9" },
        { "async-emsmdb", "5261574a-4572-206e-b268-6b199213b4e4", "Exchange AsyncEMSMDB (Outlook notifications)",
          "[MS-OXCRPC] 1.9" },
        { "nspi", "f5cc5a18-4264-101a-8c59-08002b2f8426", "Exchange NSPI address book", "[MS-OXNSPI] 1.9" },
        { "rfr", "1544f5e0-613c-11d1-93df-00c04fd7bd09", "Exchange RFR address book referral",
          "[MS-OXABREF] 1.9" },
        { "drsuapi", "e3514235-4b06-11d1-ab04-00c04fc2dcd2", "AD directory replication (DRSUAPI)",
          "[MS-DRSR] 1.9" },
        { "netlogon", "12345678-1234-abcd-ef00-01234567cffb", "Netlogon secure channel", "[MS-NRPC] 1.9" },
        { "lsarpc", "12345778-1234-abcd-ef00-0123456789ab", "Local Security Authority (LSA)",
          "[MS-LSAD] 1.9" },
        { "samr", "12345778-1234-abcd-ef00-0123456789ac", "Security Account Manager (SAMR)", "[MS-SAMR] 1.9" },
        { "dssetup", "3919286a-b10c-11d0-9ba8-00c04fd92ef5", "Directory services setup (DSSETUP)",
          "[MS-DSSP] 1.9" },
        { "dfsr", "897e2e5f-93f3-4376-9c9c-fd2277495c27", "DFS Replication (SYSVOL)", "[MS-FRS2] 1.9" },
        { "frs", "f5cc59b4-4264-101a-8c59-08002b2f8426", "File Replication Service (SYSVOL, legacy)",
          "[MS-FRS1] 1.9" },
        { "srvsvc", "4b324fc8-1670-01d3-1278-5a47bf6ee188", "Server service (shares)", "[MS-SRVS] 1.9" },
        { "wkssvc", "6bffd098-a112-3610-9833-46c3f87e345a", "Workstation service", "[MS-WKST] 1.9" },
        { "winreg", "338cd001-2244-31f1-aaaa-900038001003", "Remote registry", "[MS-RRP] 1.9" },
        {},
};

const struct pst_rpc_interface *pst_rpc_interface_find(const char *name) {
        for (const struct pst_rpc_interface *i = pst_rpc_interfaces; i->name; i++)
                if (streq(i->name, name))
                        return i;
        return NULL;
}

static int interface_item(struct pst_cfg *c, const config_setting_t *item, void *userdata) {
        struct pst_rpc *rpc = userdata;
        const struct pst_rpc_interface *known;
        const char *v, *uuid;
        uint8_t u[16];

        if (pst_cfg_string(c, item, "interfaces", 64, &v) < 0)
                return -EINVAL;
        known = pst_rpc_interface_find(v);
        uuid = known ? known->uuid : v;
        if (pst_dcerpc_uuid_parse(uuid, u) < 0)
                return pst_cfg_error(c, item,
                                     "unknown RPC interface '%s'; expected a name such as emsmdb, nspi, rfr, drsuapi, "
                                     "netlogon, lsarpc, samr (postern.conf(5)) or a UUID "
                                     "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
                                     v);
        for (size_t i = 0; i < rpc->nifs; i++)
                if (!memcmp(rpc->ifs[i], u, 16))
                        return pst_cfg_error(c, item, "RPC interface '%s' is listed twice", v);
        if (rpc->nifs >= PST_RPC_IFS_MAX)
                return pst_cfg_error(c, item, "too many RPC interfaces (at most %d)", PST_RPC_IFS_MAX);
        memcpy(rpc->ifs[rpc->nifs], u, 16);
        rpc->if_names[rpc->nifs++] = known ? known->name : NULL;
        return 0;
}

static int parse_group(struct pst_cfg *c, const config_setting_t *s, struct pst_rpc *rpc) {
        static const char *const keys[] = { "interfaces", "timeout", "max", NULL };
        const config_setting_t *m;
        long long v;
        int r = 0;

        if (pst_cfg_check_keys(c, s, "rpc", keys) < 0)
                r = -EINVAL;
        if ((m = config_setting_get_member(s, "interfaces")) &&
            pst_cfg_foreach_scalar(c, m, "interfaces", false, interface_item, rpc) < 0)
                r = -EINVAL;
        if ((m = config_setting_get_member(s, "timeout"))) {
                if (pst_cfg_int(c, m, "rpc timeout (seconds)", 1, PST_RPC_TIMEOUT_MAX, &v) < 0)
                        r = -EINVAL;
                else
                        rpc->timeout = (uint32_t) v;
        }
        if ((m = config_setting_get_member(s, "max"))) {
                if (pst_cfg_int(c, m, "rpc max (pinholes)", 1, PST_RPC_MAX_MAX, &v) < 0)
                        r = -EINVAL;
                else
                        rpc->max = (uint32_t) v;
        }
        return r;
}

int pst_rpc_parse(struct pst_cfg *c, const config_setting_t *s, struct pst_rpc **ret) {
        _cleanup_free_ struct pst_rpc *rpc = calloc(1, sizeof(*rpc));
        bool on;

        if (!rpc)
                return -ENOMEM;
        *rpc = (struct pst_rpc) { .loc = pst_cfg_loc(c, s), .timeout = PST_RPC_TIMEOUT_DEFAULT,
                                  .max = PST_RPC_MAX_DEFAULT };
        if (config_setting_type(s) == CONFIG_TYPE_BOOL) {
                if (pst_cfg_bool(c, s, "rpc", &on) < 0)
                        return -EINVAL;
                if (!on)
                        return 0; /* rpc = false: no pinholes, *ret untouched */
        } else if (config_setting_type(s) != CONFIG_TYPE_GROUP)
                return pst_cfg_error(c, s,
                                     "rpc must be true or a group { interfaces = [...]; timeout = SECONDS; "
                                     "max = N; }, not %s",
                                     pst_cfg_type_name(s));
        else if (parse_group(c, s, rpc) < 0)
                return -EINVAL;
        *ret = TAKE_PTR(rpc);
        return 0;
}

int pst_rpc_check_rule(struct pst_cfg *c, const config_setting_t *s, const struct pst_service *const *svc,
                       size_t nsvc) {
        for (size_t i = 0; i < nsvc; i++)
                for (size_t k = 0; k < svc[i]->ntcp; k++)
                        if (svc[i]->tcp[k].first <= PST_DCERPC_EPMAP_PORT &&
                            PST_DCERPC_EPMAP_PORT <= svc[i]->tcp[k].last)
                                return 0;
        return pst_cfg_error(c, s,
                             "rpc pinholes follow the endpoint mapper's replies, but this rule does not allow it: "
                             "add \"msrpc-epmap\" (tcp/135) to its allow");
}

#ifndef DIFFAI_CPCAP_SHIM_H
#define DIFFAI_CPCAP_SHIM_H
#include <pcap/pcap.h>
#include <stdio.h>
#endif

/* Fixed-width types for a freestanding kernel and its user programs. */
#ifndef TYPES_H
#define TYPES_H
typedef unsigned char uint8_t;
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
typedef unsigned long uint64_t;
typedef signed char int8_t;
typedef short int16_t;
typedef int int32_t;
typedef long int64_t;
typedef unsigned long uintptr_t;
typedef unsigned long size_t;
#define UINT64_MAX 0xffffffffffffffffUL
#define NULL ((void *)0)
#endif

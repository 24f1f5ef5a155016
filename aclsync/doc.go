// Package aclsync copies the source cluster's ACLs that match a link's acl.filters to the destination, deletes the
// ones the link created that disappeared from the source, and keeps mirror topics read-only with DENY WRITE ACLs
// until they are promoted.
//
// It never deletes an ACL the link did not create.
package aclsync

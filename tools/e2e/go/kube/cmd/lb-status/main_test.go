package main

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func lb(ns, name string, age time.Duration, ports ...int32) corev1.Service {
	svc := corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: metav1.NewTime(time.Unix(1e9, 0).Add(-age))},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer},
	}
	for _, p := range ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Port: p, Protocol: corev1.ProtocolTCP})
	}
	return svc
}

func TestOlderServiceKeepsAPortAndTheNewerOneWaits(t *testing.T) {
	want := desired([]corev1.Service{lb("b", "new", time.Minute, 8080), lb("a", "old", time.Hour, 8080, 443)})
	if !want["a/old"] || want["b/new"] {
		t.Fatalf("want only a/old to get the address, got %v", want)
	}
}

func TestServicesOnDifferentPortsAllGetTheAddress(t *testing.T) {
	want := desired([]corev1.Service{lb("a", "web", time.Hour, 8080), lb("a", "other", time.Minute, 9090)})
	if !want["a/web"] || !want["a/other"] {
		t.Fatalf("want both, got %v", want)
	}
}

func TestOnlyLoadBalancersWithoutAClassAreManaged(t *testing.T) {
	np := lb("a", "np", time.Hour, 8080)
	np.Spec.Type = corev1.ServiceTypeNodePort
	class := "example.com/lb"
	classed := lb("a", "classed", time.Hour, 8080)
	classed.Spec.LoadBalancerClass = &class
	want := desired([]corev1.Service{np, classed, lb("a", "web", time.Minute, 8080)})
	if _, ok := want["a/np"]; ok {
		t.Fatalf("NodePort Service managed: %v", want)
	}
	if _, ok := want["a/classed"]; ok {
		t.Fatalf("Service with a loadBalancerClass managed: %v", want)
	}
	if !want["a/web"] {
		t.Fatalf("a/web should get the address (the others do not hold 8080): %v", want)
	}
}

// lb-status gives every Service of type LoadBalancer (without a loadBalancerClass) on the e2e
// cluster the node's IP as its load-balancer ingress address. kube-proxy then forwards
// NODE_IP:<service port> to the Service, as k3s' ServiceLB does with its hostPorts, and clients
// that wait for an address (pulumi-kubernetes' await logic) see the Service as ready.
//
// Like ServiceLB on one node, a port can belong to one Service only: a Service asking for a
// port/protocol that an older LoadBalancer Service already holds stays without an address.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os/signal"
	"sort"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func managed(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.LoadBalancerClass == nil
}

func hasAddress(svc *corev1.Service, ip string) bool {
	ing := svc.Status.LoadBalancer.Ingress
	return len(ing) == 1 && ing[0].IP == ip
}

func portKeys(svc *corev1.Service) []string {
	keys := make([]string, 0, len(svc.Spec.Ports))
	for _, p := range svc.Spec.Ports {
		keys = append(keys, fmt.Sprintf("%d/%s", p.Port, p.Protocol))
	}
	return keys
}

// desired decides, oldest Service first, which LoadBalancer Services get the address.
func desired(items []corev1.Service) map[string]bool {
	svcs := make([]*corev1.Service, 0, len(items))
	for i := range items {
		if managed(&items[i]) && items[i].DeletionTimestamp == nil {
			svcs = append(svcs, &items[i])
		}
	}
	sort.Slice(svcs, func(a, b int) bool {
		ta, tb := svcs[a].CreationTimestamp, svcs[b].CreationTimestamp
		if !ta.Equal(&tb) {
			return ta.Before(&tb)
		}
		return svcs[a].Namespace+"/"+svcs[a].Name < svcs[b].Namespace+"/"+svcs[b].Name
	})
	claimed := map[string]string{}
	want := map[string]bool{}
	for _, svc := range svcs {
		id := svc.Namespace + "/" + svc.Name
		free := true
		for _, k := range portKeys(svc) {
			if owner, ok := claimed[k]; ok && owner != id {
				free = false
			}
		}
		if free {
			for _, k := range portKeys(svc) {
				claimed[k] = id
			}
		}
		want[id] = free
	}
	return want
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the cluster")
	nodeIP := flag.String("node-ip", "", "address to publish as every LoadBalancer's ingress IP")
	interval := flag.Duration("interval", 2*time.Second, "how often to look for new Services")
	flag.Parse()
	if *nodeIP == "" {
		log.Fatal("--node-ip is required")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatalf("kubeconfig: %v", err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	vip := corev1.LoadBalancerIPModeVIP
	log.Printf("publishing %s for LoadBalancer Services", *nodeIP)
	for ctx.Err() == nil {
		list, err := client.CoreV1().Services("").List(ctx, metav1.ListOptions{})
		if err != nil {
			log.Printf("list services: %v", err)
		} else {
			want := desired(list.Items)
			for i := range list.Items {
				svc := &list.Items[i]
				id := svc.Namespace + "/" + svc.Name
				give, isLB := want[id]
				if !isLB || give == hasAddress(svc, *nodeIP) {
					continue
				}
				if give {
					svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: *nodeIP, IPMode: &vip}}
				} else {
					svc.Status.LoadBalancer.Ingress = nil
				}
				if _, err := client.CoreV1().Services(svc.Namespace).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
					log.Printf("%s: %v", id, err)
				} else if give {
					log.Printf("%s: ingress %s", id, *nodeIP)
				} else {
					log.Printf("%s: a port is held by an older LoadBalancer Service: no address", id)
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(*interval):
		}
	}
}

// lb-status gives every Service of type LoadBalancer (without a loadBalancerClass) on the e2e
// cluster the node's IP as its load-balancer ingress address. kube-proxy then forwards
// NODE_IP:<service port> to the Service, as k3s' ServiceLB does with its hostPorts, and clients
// that wait for an address (pulumi-kubernetes' await logic) see the Service as ready.
package main

import (
	"context"
	"flag"
	"log"
	"os/signal"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func wantsAddress(svc *corev1.Service, ip string) bool {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Spec.LoadBalancerClass != nil {
		return false
	}
	ing := svc.Status.LoadBalancer.Ingress
	return len(ing) != 1 || ing[0].IP != ip
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
			for i := range list.Items {
				svc := &list.Items[i]
				if !wantsAddress(svc, *nodeIP) {
					continue
				}
				svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: *nodeIP, IPMode: &vip}}
				if _, err := client.CoreV1().Services(svc.Namespace).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
					log.Printf("%s/%s: %v", svc.Namespace, svc.Name, err)
				} else {
					log.Printf("%s/%s: ingress %s", svc.Namespace, svc.Name, *nodeIP)
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(*interval):
		}
	}
}
